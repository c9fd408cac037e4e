import Dispatch
import Logging
import PortalDomain

import Glibc

// Durability of the writer's commits, off the writer's thread.
//
// With `synchronous = FULL` SQLite fsyncs the write-ahead log inside every
// COMMIT, so the single writer thread sat idle in fsync for a quarter to a
// third of its time under checkout load, and ran every checkpoint inline.
// Instead the writer commits with `synchronous = NORMAL` (WAL frames
// written, not yet synced) and hands its group's answers to `WALSync`,
// whose own thread calls `fdatasync` on the log and only then answers
// them, while the writer already runs the next group. One fsync covers
// every commit written before it (the log is one append-only file), so
// "answered" still means "committed and on disk" for every write, and the
// commits that reach the disk are always a prefix of those answered.
// Checkpoints run on a connection and thread of their own (`Checkpointer`).

/// Answers the writer's commits once an `fdatasync` of the write-ahead log
/// that started after them has returned.
final class WALSync: Sendable {
    /// Answers one write, given the sync's failure if it failed.
    typealias Answer = @Sendable (_ syncFailure: (any Error)?) -> Void

    private struct State {
        var waiting: [Answer] = []
        var syncing = false
        var closed = false
    }

    private let descriptor: Int32
    private let path: String
    private let logger: Logger
    private let queue = DispatchQueue(label: "portal.store.wal-sync", qos: .userInitiated)
    private let state = Locked(State())
    private let failed = Locked<PortalError?>(nil)

    /// Opens the write-ahead log at `path` (which SQLite has created) for
    /// syncing, and syncs its directory once so that the log's own entry
    /// is durable too. `nil` when either cannot be opened: the caller then
    /// keeps `synchronous = FULL`.
    init?(walPath path: String, logger: Logger) {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let directoryDescriptor = Glibc.open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC)
        guard directoryDescriptor >= 0, fsync(directoryDescriptor) == 0 else {
            if directoryDescriptor >= 0 { Glibc.close(directoryDescriptor) }
            Glibc.close(descriptor)
            return nil
        }
        Glibc.close(directoryDescriptor)
        self.descriptor = descriptor
        self.path = path
        self.logger = logger
    }

    /// Set once a sync failed: from then on nothing is known to be durable,
    /// so the writer refuses every write (`INTERNAL`) until the server is
    /// restarted and SQLite recovers from what the disk really holds.
    var failure: PortalError? { failed.withLock { $0 } }

    /// Runs `answers` after the next `fdatasync` of the log (one that starts
    /// after this call), on the sync thread.
    func answerWhenDurable(_ answers: [Answer]) {
        let start = state.withLock { state in
            state.waiting.append(contentsOf: answers)
            defer { state.syncing = true }
            return !state.syncing
        }
        if start { queue.async { self.drain() } }
    }

    /// Syncs until no answer is waiting.
    private func drain() {
        while true {
            let batch: [Answer] = state.withLock { state in
                let batch = state.waiting
                state.waiting = []
                if batch.isEmpty { state.syncing = false }
                return batch
            }
            if batch.isEmpty { return }
            let error = failure ?? syncLog()
            for answer in batch { answer(error) }
        }
    }

    /// Syncs the log on the caller's thread (the writer's, before it copies
    /// frames back: ``Checkpointer/finishOnWriter(_:)``); the failure, if
    /// any, is recorded as for a sync of the answers.
    func syncLog() -> PortalError? {
        synced(descriptor, "the write-ahead log", path: path)
    }

    /// `fdatasync`s `file` (`what` at `path`, for the log); on failure
    /// records that nothing is known to be durable any more.
    func synced(_ file: Int32, _ what: String, path: String) -> PortalError? {
        let rc = fdatasync(file)
        guard rc != 0 else { return nil }
        let code = errno
        logger.critical(
            "fsync of \(what) failed: refusing all writes until portald is restarted",
            metadata: ["path": "\(path)", "errno": "\(code)"])
        let error = PortalError(
            .internal, .internalError, "The server could not make its writes durable; see its log.")
        failed.withLock { $0 = error }
        return error
    }

    deinit {
        if !state.withLock({ $0.closed }) { Glibc.close(descriptor) }
    }

    /// Waits for every answer handed in so far, then closes the descriptor.
    func close() {
        queue.sync {}
        let close = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if close { Glibc.close(descriptor) }
    }
}

/// Checkpoints the write-ahead log into the database on its own connection
/// and thread when the writer's commits have made it long, so that the
/// writer does not copy pages back itself.
///
/// A checkpoint that runs while the writer keeps appending can never copy
/// the *whole* log, and SQLite starts the log again from its beginning only
/// after a complete one — so the log would grow without end. Hence two
/// steps: this thread copies the bulk (passive: it never waits for, nor
/// blocks, the writer or readers); once it has copied everything it saw,
/// the writer, between two of its transactions, copies the few frames
/// appended meanwhile (``finishOnWriter(_:)``; if more than
/// ``finishLimit`` were, another bulk copy runs first, at most
/// ``extraCopyLimit`` times), and its next transaction restarts the log.
///
/// **The syncs of a checkpoint, off the writer.** SQLite's checkpoint syncs
/// the log before copying and the database file after; the log restarts
/// only after that, since restarting overwrites the copied frames. Inside
/// the writer's finishing copy the database sync had to write back every
/// page the bulk copy left dirty, and stalled every write in flight for
/// 3–16 ms about twice a second under checkout load. So: the bulk copy is
/// followed by an `fdatasync` of the database file on this thread; the
/// writer syncs the log itself, copies with SQLite's syncs off, and hands
/// the database file's sync to this thread; its next transaction waits for
/// that sync before its `COMMIT` (``waitForDatabaseSync()``) — the first
/// frame a transaction appends is where SQLite restarts the log, and with
/// `cache_spill` off on the writer no frame is written before `COMMIT`. The
/// pages are thus on disk before any copied frame can be overwritten, as
/// with SQLite's own order, while the writer already runs its next group.
///
/// Restarting the log reuses its file, which keeps the size of the longest
/// run (≈ 200 MiB under sustained checkout load). Once the writer has
/// written nothing for ``idleSeconds``, a truncating checkpoint cuts the
/// file back to zero bytes (cutting it at every restart instead cost ≈ 7 %
/// of checkout throughput in re-growing the file).
final class Checkpointer: Sendable {
    /// Frames after which this checkpointer starts a checkpoint
    /// (``PortalStore/Configuration/checkpointFrames``, by default 32,768:
    /// 128 MiB of 4-KiB pages; SQLite's own automatic checkpoints use 1000).
    /// A page written by many commits in between is copied back once, so a
    /// longer log means less copying — checkout touches the same few pages
    /// (counters, index ends) in every group. Checkout 4×64, A/B: 1,024
    /// frames 10–25 % slower than 4,096, 16,384 faster again, 32,768
    /// faster still (≈ 3–6 % less CPU per answer, session 11), 65,536 no
    /// better (docs/performance.md).
    let threshold: Int
    /// Seconds without a new frame in the log after which its file is
    /// truncated (``PortalStore/Configuration/idleCheckpointSeconds``).
    let idleSeconds: Double

    private struct State {
        var running = false
        /// Frames at which the next checkpoint is due.
        var dueAt: Int
        /// The bulk copy reached the end of the log it saw: the writer
        /// should copy the rest.
        var readyToFinish = false
        /// Frames in the log when the last complete bulk copy ended.
        var copiedThrough = 0
        /// Bulk copies run since the writer last finished one.
        var extraCopies = 0
        /// Frames in the log after the writer's last commit; 0 once the
        /// file was truncated.
        var frames = 0
        /// `frames` when the idle watch last looked.
        var framesAtLastLook = 0
    }

    private let connection: Locked<SQLiteConnection?>
    private let state: Locked<State>
    private let queue = DispatchQueue(label: "portal.store.checkpointer", qos: .utility)
    private let logger: Logger
    /// Syncs the log, and records a failed sync (writes are refused from then on).
    private let sync: WALSync
    /// The database file, opened read-only for `fdatasync`.
    private let databaseFile: Int32
    private let databasePath: String
    /// Entered while the database file's sync after a finishing copy runs.
    private let databaseSync = DispatchGroup()
    /// Tests only: runs on this checkpointer's thread before each sync of
    /// the database file (`true`: the one after a finishing copy).
    private let beforeDatabaseSync: (@Sendable (_ afterFinishingCopy: Bool) -> Void)?

    /// `connection` should have a short busy timeout: only the idle
    /// truncation waits on it, while holding writers off. `nil` when the
    /// database file at `databasePath` cannot be opened for syncing.
    init?(
        connection: SQLiteConnection, sync: WALSync, databasePath: String, threshold: Int,
        idleSeconds: Double, logger: Logger,
        beforeDatabaseSync: (@Sendable (_ afterFinishingCopy: Bool) -> Void)? = nil
    ) {
        precondition(threshold >= 1, "a checkpoint threshold of at least one frame")
        precondition(idleSeconds > 0, "an idle time before truncating the log")
        let databaseFile = Glibc.open(databasePath, O_RDONLY | O_CLOEXEC)
        guard databaseFile >= 0 else { return nil }
        self.databaseFile = databaseFile
        self.databasePath = databasePath
        self.beforeDatabaseSync = beforeDatabaseSync
        self.sync = sync
        self.connection = Locked(connection)
        self.threshold = threshold
        self.idleSeconds = idleSeconds
        self.state = Locked(State(dueAt: threshold))
        self.logger = logger
        watchForIdle()
    }

    /// Every ``idleSeconds``: when the log has frames and the writer added
    /// none since the last look, truncates it (on this checkpointer's
    /// queue, so never during a bulk copy).
    private func watchForIdle() {
        queue.asyncAfter(deadline: .now() + idleSeconds) { [self] in
            // Closed (``close()`` runs on this queue too): the watch ends.
            guard let db = connection.withLock({ $0 }) else { return }
            let idle = state.withLock { state in
                defer { state.framesAtLastLook = state.frames }
                return state.frames > 0 && state.frames == state.framesAtLastLook && !state.running
            }
            if idle {
                do {
                    if try db.truncatingCheckpoint() {
                        state.withLock { state in
                            // Unless the writer committed meanwhile.
                            if state.frames == state.framesAtLastLook { state.frames = 0 }
                        }
                    }
                } catch {
                    logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
            watchForIdle()
        }
    }

    /// Told by the writer after each commit how many frames the log holds:
    /// starts the bulk copy once ``threshold`` more frames were written since
    /// the last one started (or since the log restarted), unless one is
    /// running.
    func noteCommit(walFrames frames: Int) {
        let threshold = self.threshold
        let start = state.withLock { state in
            state.frames = frames
            if frames + threshold < state.dueAt {
                // The writer restarted the log from its beginning.
                state.dueAt = threshold
            }
            guard frames >= state.dueAt, !state.running else { return false }
            state.running = true
            state.dueAt = frames + threshold
            return true
        }
        if start { startBulkCopy() }
    }

    /// The most frames the writer copies itself: more were appended while
    /// the bulk copy ran (a slow disk), and another bulk copy takes them
    /// instead, so that the writer never stalls for long.
    static let finishLimit = 512

    /// Bulk copies run for the rest before the writer copies it anyway, so
    /// that the log restarts even when the writer appends faster than a
    /// bulk copy catches up.
    static let extraCopyLimit = 2

    private func startBulkCopy() {
        queue.async { [self] in
            var copiedThrough: Int?
            if let db = connection.withLock({ $0 }) {
                do {
                    let (log, copied) = try db.passiveCheckpoint()
                    // The pages copied on disk now, so that the database
                    // sync after the writer's finishing copy has only that
                    // copy's pages to write.
                    if copied == log, syncDatabaseFile(afterFinishingCopy: false) == nil {
                        copiedThrough = log
                    }
                } catch {
                    logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
            state.withLock { state in
                state.running = false
                state.readyToFinish = copiedThrough != nil
                state.copiedThrough = copiedThrough ?? 0
            }
        }
    }

    /// On the writer's thread, between transactions: once the bulk copy
    /// caught up, copies what was appended since on `writer` (its own
    /// connection, so that nothing is appended meanwhile), so that the
    /// writer's next transaction starts the log again.
    func finishOnWriter(_ writer: SQLiteConnection) {
        enum Next { case nothing, finish, copyMore }
        let frames = writer.walFramesAfterLastCommit
        let next: Next = state.withLock { state in
            guard state.readyToFinish, !state.running else { return .nothing }
            state.readyToFinish = false
            guard frames - state.copiedThrough <= Self.finishLimit || state.extraCopies >= Self.extraCopyLimit
            else {
                state.extraCopies += 1
                state.running = true
                return .copyMore
            }
            state.extraCopies = 0
            return .finish
        }
        switch next {
        case .nothing: return
        case .copyMore: return startBulkCopy()
        case .finish: break
        }
        // The frames to copy on disk first (SQLite's own first step); the
        // copy without SQLite's syncs; the database file's sync on this
        // checkpointer's thread, awaited before the writer's next COMMIT
        // (see the type's notes).
        guard sync.syncLog() == nil else { return }
        do {
            try writer.execute(script: "PRAGMA synchronous = OFF")
            let copy = Result { try writer.passiveCheckpoint() }
            try writer.execute(script: "PRAGMA synchronous = NORMAL")
            _ = try copy.get()
        } catch {
            logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
        }
        databaseSync.enter()
        queue.async { [self] in
            _ = syncDatabaseFile(afterFinishingCopy: true)
            databaseSync.leave()
        }
    }

    /// Waits until the database file's sync after the last finishing copy
    /// has returned (at once when none runs); throws when a sync failed.
    /// The writer calls it before every `COMMIT`.
    func waitForDatabaseSync() throws {
        databaseSync.wait()
        if let failure = sync.failure { throw failure }
    }

    private func syncDatabaseFile(afterFinishingCopy: Bool) -> PortalError? {
        beforeDatabaseSync?(afterFinishingCopy)
        return sync.synced(databaseFile, "the database file", path: databasePath)
    }

    /// Waits for a running checkpoint or sync, then closes the connection.
    func close() {
        queue.sync {
            connection.withLock { db in
                if db != nil { Glibc.close(databaseFile) }
                db?.close()
                db = nil
            }
        }
    }
}
