import Dispatch
import PortalDomain

// The store's own threads. SQLite calls block (disk I/O, fsync, the busy
// timeout), so they never run on a caller's thread, which may be a NIO event
// loop or a cooperative-pool thread of Swift concurrency. Callers `await`;
// the work runs on a Dispatch queue and resumes them through a continuation.

/// Set when the caller's task is cancelled (for example because its deadline
/// passed), so that queued work is not started and a write is not committed.
final class CancellationFlag: Sendable {
    private let cancelled = Locked(false)
    /// The caller's deadline (``CallDeadline``), read when the work was asked for.
    private let deadline: UInt64?

    /// A flag for work due by `deadline` (``CallDeadline``'s clock), if any.
    init(deadline: UInt64?) {
        self.deadline = deadline
    }

    /// Marks the work as no longer wanted.
    func cancel() { cancelled.withLock { $0 = true } }

    /// Whether the work is no longer wanted: its task was cancelled, or its
    /// deadline has passed.
    var isCancelled: Bool { cancelled.withLock { $0 } || CallDeadline.hasPassed(deadline) }
}

/// The single writer: one connection and one serial queue, so writes are
/// serialised in this process without any thread ever blocking on another
/// writer; `BEGIN IMMEDIATE` serialises them against other processes.
///
/// **Group commit.** Every answer waits for an fsync of the WAL, which
/// caps one-transaction-per-write at a few hundred writes a second. So the
/// writes that queue up while one transaction runs are run together in the
/// next: one `BEGIN IMMEDIATE`, the writes one after another, one
/// `COMMIT`. Each write stands or falls alone: a write that fails (or
/// whose caller gave up) before it ran any statement that could write
/// leaves nothing to undo — the usual refusal, found by its checks — and
/// the group carries on; one that fails after writing undoes the whole
/// transaction, is answered with its error, and the others run again, in
/// order, in the next group. (A savepoint per write did the same with a
/// `SAVEPOINT` and a `RELEASE` per write, and a copy of every page a write
/// touched.) No caller is answered before that commit is durable, so
/// "answered" still means "committed and on disk" for every write; each
/// write still sees the ones before it, under the same write lock, so every
/// capacity re-count holds.
///
/// **Pipelined sync.** With a ``WALSync`` the commit itself does not fsync
/// (`synchronous = NORMAL`): the group's answers go to the sync thread,
/// which answers them after an `fdatasync` of the log that started after the
/// commit, while this thread already runs the next group. Without one
/// (`synchronous = FULL`) the commit fsyncs and the group is answered here.
final class WriterLane: Sendable {
    /// One write waiting for its turn.
    private struct Job: Sendable {
        /// Runs the caller's work, keeps its result and says what it may
        /// have changed; may run again if another write of its group fails
        /// after writing.
        let run: @Sendable (SQLiteConnection) throws -> StoreChanges
        /// Answers the caller: the kept result, or the error.
        let finish: @Sendable ((any Error)?) -> Void
        let flag: CancellationFlag
    }

    private struct Pending {
        var jobs: [Job] = []
        var draining = false
    }

    /// The most writes one transaction carries.
    static let maximumGroup = 128

    private let queue = DispatchQueue(label: "portal.store.writer", qos: .userInitiated)
    private let connection: Locked<SQLiteConnection?>
    private let pending = Locked(Pending())
    private let onCommit: @Sendable (StoreChanges) -> Void
    private let sync: WALSync?
    private let checkpointer: Checkpointer?

    /// A lane over `connection`; `onCommit` runs after every commit that
    /// changed rows, with what the committed writes said they may change,
    /// before any of their callers is answered.
    ///
    /// With `sync`, `connection` must be in WAL mode with `synchronous =
    /// NORMAL`: answers wait for `sync`. With `checkpointer`, the connection
    /// must track its WAL frames (``SQLiteConnection/trackWALFrames()``),
    /// which turns SQLite's automatic checkpoints off: the lane asks
    /// `checkpointer` instead once the log holds ``Checkpointer/threshold``
    /// frames.
    init(
        connection: SQLiteConnection, sync: WALSync? = nil, checkpointer: Checkpointer? = nil,
        onCommit: @escaping @Sendable (StoreChanges) -> Void = { _ in }
    ) {
        self.connection = Locked(connection)
        self.sync = sync
        self.checkpointer = checkpointer
        self.onCommit = onCommit
    }

    /// Whether answers wait for a sync of their own thread (``WALSync``)
    /// rather than for an fsync inside the commit.
    var syncsOffThread: Bool { sync != nil }

    /// Runs `work` on the writer connection inside a `BEGIN IMMEDIATE`
    /// transaction (possibly shared with other writes, see the type's
    /// notes) and answers once that transaction has committed.
    ///
    /// `work` may run more than once (when a write grouped before its
    /// commit fails after writing, the group is undone and run again), so it
    /// must change nothing but the database.
    ///
    /// `work` receives a closure that says whether the caller gave up (its
    /// task was cancelled, or its ``CallDeadline`` passed); if it did by the
    /// time `work` returns, the write is rolled back and the call throws
    /// `CancellationError`. With `evenIfCallerGivesUp`, the write is done
    /// regardless — for writes that undo what a call did before it ran out.
    func perform<T: Sendable>(
        changes: StoreChanges, evenIfCallerGivesUp: Bool = false,
        _ work: @escaping @Sendable (SQLiteConnection, _ shouldAbort: @escaping () -> Bool) throws -> T
    ) async throws -> T {
        try await perform(
            evenIfCallerGivesUp: evenIfCallerGivesUp,
            declaring: { db, shouldAbort in (try work(db, shouldAbort), changes) })
    }

    /// As ``perform(changes:evenIfCallerGivesUp:_:)``, for a write that
    /// knows what it may have changed only once it has run: `work` returns
    /// its value and those changes (a settled hold changes what `ListBlocks`
    /// shows only when it had expired, for example).
    func perform<T: Sendable>(
        evenIfCallerGivesUp: Bool = false,
        declaring work: @escaping @Sendable (SQLiteConnection, _ shouldAbort: @escaping () -> Bool) throws
            -> (value: T, changes: StoreChanges)
    ) async throws -> T {
        if evenIfCallerGivesUp {
            return try await run(work, flag: CancellationFlag(deadline: nil))
        }
        try Task.checkCancellation()
        let flag = CancellationFlag(deadline: CallDeadline.uptimeNanoseconds)
        return try await withTaskCancellationHandler {
            try await run(work, flag: flag)
        } onCancel: {
            flag.cancel()
        }
    }

    /// Queues `work` as a job that `flag` may call off, and waits for its answer.
    private func run<T: Sendable>(
        _ work: @escaping @Sendable (SQLiteConnection, _ shouldAbort: @escaping () -> Bool) throws
            -> (value: T, changes: StoreChanges),
        flag: CancellationFlag
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let result = Locked<T?>(nil)
            let job = Job(
                run: { db in
                    let (value, changes) = try work(db, { flag.isCancelled })
                    result.withLock { $0 = value }
                    return changes
                },
                finish: { error in
                    if let error {
                        continuation.resume(throwing: PortalError.surfacing(error))
                    } else {
                        continuation.resume(returning: result.withLock { $0! })
                    }
                },
                flag: flag)
            enqueue(job)
        }
    }

    /// Queues `work` like ``perform(changes:evenIfCallerGivesUp:_:)`` without waiting for it:
    /// `finished` receives the outcome once the write's transaction has
    /// committed and is durable (or failed). `work` may run more than once,
    /// as for `perform`; a write nobody waits for is never cancelled.
    func submit(
        changes: StoreChanges,
        _ work: @escaping @Sendable (SQLiteConnection) throws -> Void,
        finished: @escaping @Sendable ((any Error)?) -> Void
    ) {
        enqueue(
            Job(
                run: { db in
                    try work(db)
                    return changes
                },
                finish: finished, flag: CancellationFlag(deadline: nil)))
    }

    private func enqueue(_ job: Job) {
        let startDrain = pending.withLock { pending in
            pending.jobs.append(job)
            defer { pending.draining = true }
            return !pending.draining
        }
        if startDrain { queue.async { self.drain() } }
    }

    /// Runs groups of queued writes until none is left (on the queue).
    private func drain() {
        while true {
            let group: [Job] = pending.withLock { pending in
                let count = min(pending.jobs.count, Self.maximumGroup)
                let group = Array(pending.jobs.prefix(count))
                pending.jobs.removeFirst(count)
                if group.isEmpty { pending.draining = false }
                return group
            }
            if group.isEmpty { return }
            runGroup(group)
        }
    }

    private func runGroup(_ group: [Job]) {
        // The queue is serial, so only this job uses the connection.
        guard let db = connection.withLock({ $0 }) else {
            for job in group { job.finish(PortalError.storeClosed) }
            return
        }
        if let failure = sync?.failure {
            for job in group { job.finish(failure) }
            return
        }
        var runnable: [Job] = []
        for job in group {
            if job.flag.isCancelled { job.finish(CancellationError()) } else { runnable.append(job) }
        }
        if runnable.isEmpty { return }
        do {
            try db.run("BEGIN IMMEDIATE")
        } catch {
            for job in runnable { job.finish(error) }
            return
        }
        var succeeded: [Job] = []
        // Refusals too wait for the commit's sync: what they read may be an
        // earlier group's commit that is not on disk yet.
        var refused: [(job: Job, error: any Error)] = []
        var changes: StoreChanges = []
        for (index, job) in runnable.enumerated() {
            let changedBefore = db.totalChanges
            let writesBefore = db.writeStatements
            do {
                let declared = try job.run(db)
                if job.flag.isCancelled { throw CancellationError() }
                succeeded.append(job)
                if db.totalChanges != changedBefore { changes.formUnion(declared) }
            } catch {
                if db.isInTransaction && db.writeStatements == writesBefore {
                    // Refused before any statement that could write:
                    // nothing to undo; the group carries on.
                    refused.append((job, error))
                    continue
                }
                // This write failed after writing (or SQLite rolled the
                // whole transaction back: I/O error, full disk, …): the
                // transaction is undone; this write is answered with its
                // error once what it read is durable; the others, which lost
                // their writes with it, run again in the next group.
                db.rollbackIfInTransaction()
                let failed: WALSync.Answer = { _ in job.finish(error) }
                if let sync { sync.answerWhenDurable([failed]) } else { failed(nil) }
                let again = runnable[..<index] + runnable[(index + 1)...]
                pending.withLock { $0.jobs.insert(contentsOf: again, at: 0) }
                return
            }
        }
        do {
            // Not before the database file holds what the last checkpoint
            // copied: this commit may restart the log over those frames.
            try checkpointer?.waitForDatabaseSync()
            try db.run("COMMIT")
        } catch {
            db.rollbackIfInTransaction()
            for (job, error) in refused { job.finish(error) }
            for job in succeeded { job.finish(error) }
            return
        }
        if !changes.isEmpty { onCommit(changes) }
        checkpointer?.noteCommit(walFrames: db.walFramesAfterLastCommit)
        guard let sync else {
            for (job, error) in refused { job.finish(error) }
            for job in succeeded { job.finish(nil) }
            checkpointer?.finishOnWriter(db)
            return
        }
        var answers: [WALSync.Answer] = []
        answers.reserveCapacity(refused.count + succeeded.count)
        for (job, error) in refused { answers.append { _ in job.finish(error) } }
        for job in succeeded { answers.append(job.finish) }
        sync.answerWhenDurable(answers)
        checkpointer?.finishOnWriter(db)
    }

    /// Closes the connection after every job queued before this call (and
    /// after their answers' sync, and any running checkpoint).
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [connection, sync, checkpointer] in
                sync?.close()
                checkpointer?.close()
                connection.withLock { db in
                    db?.close()
                    db = nil
                }
                continuation.resume()
            }
        }
    }
}

/// A small pool of read-only connections. WAL mode lets them read committed
/// snapshots while the writer writes. A call checks one out, runs on the
/// pool's concurrent queue, and returns it; when all are busy the call waits
/// in line (as a suspended task, not a blocked thread).
final class ReaderPool: Sendable {
    private typealias Waiter = @Sendable (SQLiteConnection?) -> Void

    private struct State {
        var idle: [SQLiteConnection]
        var waiters: [Waiter] = []
        var waitersHead = 0
        var isClosed = false
    }

    private enum CheckOut {
        case now(SQLiteConnection)
        case later
        case closed
    }

    private let queue = DispatchQueue(
        label: "portal.store.readers", qos: .userInitiated, attributes: .concurrent)
    private let state: Locked<State>

    init(connections: [SQLiteConnection]) {
        self.state = Locked(State(idle: connections))
    }

    /// Runs `work` with a reader connection on the pool's queue.
    func perform<T: Sendable>(_ work: @escaping @Sendable (SQLiteConnection) throws -> T)
        async throws -> T
    {
        try Task.checkCancellation()
        let deadline = CallDeadline.uptimeNanoseconds
        return try await withCheckedThrowingContinuation { continuation in
            let job: Waiter = { [queue] db in
                guard let db else {
                    continuation.resume(throwing: PortalError.storeClosed)
                    return
                }
                queue.async {
                    // A read whose deadline passed while it waited is not started.
                    let result: Result<T, any Error> =
                        CallDeadline.hasPassed(deadline)
                        ? .failure(CancellationError())
                        : Result { try work(db) }.mapError { PortalError.surfacing($0) }
                    self.checkIn(db)
                    continuation.resume(with: result)
                }
            }
            let start: CheckOut = state.withLock { state in
                if state.isClosed { return .closed }
                if let db = state.idle.popLast() { return .now(db) }
                state.waiters.append(job)
                return .later
            }
            switch start {
            case .now(let db): job(db)
            case .closed: job(nil)
            case .later: break
            }
        }
    }

    /// Returns a connection: to the next waiter if any, else to the idle list.
    private func checkIn(_ db: SQLiteConnection) {
        enum Next { case waiter(Waiter), closeIt, none }
        let next: Next = state.withLock { state in
            if state.isClosed { return .closeIt }
            if state.waitersHead < state.waiters.count {
                let waiter = state.waiters[state.waitersHead]
                state.waitersHead += 1
                if state.waitersHead > 64, state.waitersHead * 2 > state.waiters.count {
                    state.waiters.removeFirst(state.waitersHead)
                    state.waitersHead = 0
                }
                return .waiter(waiter)
            }
            state.idle.append(db)
            return .none
        }
        switch next {
        case .waiter(let waiter): waiter(db)
        case .closeIt: db.close()
        case .none: break
        }
    }

    /// Closes idle connections now and busy ones when they are returned;
    /// waiting and later calls fail with `STORE_CLOSED`.
    func close() {
        let (idle, waiters): ([SQLiteConnection], [Waiter]) = state.withLock { state in
            state.isClosed = true
            let idle = state.idle
            let waiters = Array(state.waiters[state.waitersHead...])
            state.idle = []
            state.waiters = []
            state.waitersHead = 0
            return (idle, waiters)
        }
        for db in idle { db.close() }
        for waiter in waiters { waiter(nil) }
    }
}

extension PortalError {
    /// The store was closed before the call could run.
    static let storeClosed = PortalError(.unavailable, .storeClosed, "The store is closed.")
}
