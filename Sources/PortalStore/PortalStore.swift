import Dispatch
import Logging
import PortalDomain

/// Portal's embedded store: one SQLite database file in WAL mode, and the
/// domain operations that run in it.
///
/// Every method is `async` and runs its SQLite work on the store's own
/// threads (one writer queue with one connection for all writes, a small
/// pool of reader connections), never on the caller's thread. Every write is
/// one transaction; every capacity-consuming write opens it with
/// `BEGIN IMMEDIATE` and re-counts confirmed bookings and active holds under
/// the write lock, so `bookings + active holds ≤ capacity` holds for any
/// number of concurrent callers and across restarts.
///
/// Time comes from the injected ``WallClock`` and is read inside each
/// transaction; "today" and "has this block started" come from the
/// ``BusinessCalendar``.
///
/// ```swift
/// let store = try await PortalStore.open(
///     configuration: .init(path: "/var/lib/portal/portal.sqlite"),
///     calendar: try BusinessCalendar(timeZoneIdentifier: "Europe/London"),
///     clock: SystemWallClock(),
///     logger: Logger(label: "portal.store"))
/// let day = try await store.day(try LocalDate("2025-10-08"))
/// await store.close()
/// ```
public final class PortalStore: Sendable {
    /// How the store is set up.
    public struct Configuration: Sendable {
        /// Path of the SQLite database file; created if missing.
        public var path: String
        /// How long a capacity hold lasts, in seconds. Default: 600 (10 minutes).
        public var holdLifetimeSeconds: Int64
        /// Number of reader connections. Default: 2 (one per core of the
        /// reference machine; the single writer is extra).
        public var readerCount: Int
        /// How long a connection waits for a lock held by another process
        /// before failing with `STORE_BUSY`, in milliseconds. Default: 5000.
        public var busyTimeoutMilliseconds: Int32
        /// Frames (pages) written to the write-ahead log after which a
        /// checkpoint copies them back into the database file. Default:
        /// ``defaultCheckpointFrames``.
        public var checkpointFrames: Int
        /// Seconds without a write after which the write-ahead log's file,
        /// which keeps the size of its longest run, is truncated.
        /// Default: 10.
        public var idleCheckpointSeconds: Double

        /// 32,768 frames: 128 MiB of 4-KiB pages (see ``Checkpointer``).
        public static let defaultCheckpointFrames = 32_768

        /// A configuration for the database at `path` with the defaults.
        public init(
            path: String, holdLifetimeSeconds: Int64 = 600, readerCount: Int = 2,
            busyTimeoutMilliseconds: Int32 = 5000, checkpointFrames: Int = defaultCheckpointFrames,
            idleCheckpointSeconds: Double = 10
        ) {
            self.path = path
            self.holdLifetimeSeconds = holdLifetimeSeconds
            self.readerCount = readerCount
            self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
            self.checkpointFrames = checkpointFrames
            self.idleCheckpointSeconds = idleCheckpointSeconds
        }
    }

    /// The configuration the store was opened with.
    public let configuration: Configuration
    /// The business's calendar (time zone).
    public let calendar: BusinessCalendar
    /// Where "now" comes from.
    public let clock: any WallClock

    /// Advanced after every committed write that may change what
    /// ``availableBlocks(on:for:)`` answers, for everything or for the
    /// dates and services the write names (see ``AvailabilitySnapshot``).
    public let availabilityGenerations: AvailabilityGenerations
    /// Advanced after every committed write that may change whether a
    /// session authenticates (logout, disabled or removed logins, …).
    public let sessionsGeneration: StoreGeneration

    /// This database's own id (32 hex digits, drawn once: schema version
    /// 13), carried by every checkout PaymentIntent's metadata so that
    /// start-up repair can tell this database's PaymentIntents from another
    /// deployment's on the same provider account.
    public let storeID: String

    let logger: Logger
    let writer: WriterLane
    /// Captures being recorded in the background (``recordCaptureInBackground(_:of:)``).
    let captureRecords = CaptureRecords()
    /// Availability reads under way, shared by the calls that miss together.
    let snapshotFlights = SnapshotFlights()
    let readers: ReaderPool
    /// What an earlier run left: start-up repair takes only rows up to here,
    /// never one this process wrote (see ``EarlierRun``).
    let earlierRun: EarlierRun
    private let lock: StoreLock

    private init(
        configuration: Configuration, calendar: BusinessCalendar, clock: any WallClock,
        logger: Logger, writer: WriterLane, readers: ReaderPool, earlierRun: EarlierRun, storeID: String,
        lock: StoreLock, availabilityGenerations: AvailabilityGenerations, sessionsGeneration: StoreGeneration
    ) {
        self.earlierRun = earlierRun
        self.storeID = storeID
        self.lock = lock
        self.availabilityGenerations = availabilityGenerations
        self.sessionsGeneration = sessionsGeneration
        self.configuration = configuration
        self.calendar = calendar
        self.clock = clock
        self.logger = logger
        self.writer = writer
        self.readers = readers
    }

    /// Opens (creating if needed) the database, migrates its schema to the
    /// latest version and starts the store's threads.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` for a bad configuration,
    ///   `failedPrecondition` / `SCHEMA_TOO_NEW` for a database from a newer
    ///   Portal; ``SQLiteError`` when the file cannot be opened.
    public static func open(
        configuration: Configuration, calendar: BusinessCalendar,
        clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "portal.store")
    ) async throws -> PortalStore {
        guard configuration.holdLifetimeSeconds > 0 else {
            throw PortalError.invalidArgument(
                .invalidConfiguration, "The hold lifetime must be positive.",
                field: "hold_lifetime_seconds")
        }
        guard configuration.readerCount >= 1 else {
            throw PortalError.invalidArgument(
                .invalidConfiguration, "The store needs at least one reader connection.",
                field: "reader_count")
        }
        guard configuration.idleCheckpointSeconds > 0 else {
            throw PortalError.invalidArgument(
                .invalidConfiguration, "The idle time before truncating the log must be positive.",
                field: "idle_checkpoint_seconds")
        }
        guard configuration.checkpointFrames >= 1 else {
            throw PortalError.invalidArgument(
                .invalidConfiguration, "The checkpoint threshold must be at least one frame.",
                field: "checkpoint_frames")
        }
        let lock = try StoreLock(databasePath: configuration.path)
        // Opening does file I/O; do it off the caller's thread like all else.
        let connections = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<Connections, any Error>) in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(
                    with: Result {
                        try openConnections(configuration: configuration, logger: logger)
                    })
            }
        }
        logger.info(
            "store opened",
            metadata: [
                "path": "\(configuration.path)", "schema": "\(Migrations.latestVersion)",
                "readers": "\(configuration.readerCount)", "time_zone": "\(calendar.identifier)",
                "wal_sync": "\(connections.sync == nil ? "in commit" : "own thread")",
            ])
        let availabilityGenerations = AvailabilityGenerations()
        let sessionsGeneration = StoreGeneration()
        return PortalStore(
            configuration: configuration, calendar: calendar, clock: clock, logger: logger,
            writer: WriterLane(
                connection: connections.writer, sync: connections.sync,
                checkpointer: connections.checkpointer,
                onCommit: { changes in
                    // After the commit, before any writer is answered.
                    availabilityGenerations.advance(changes)
                    if changes.contains(.sessions) { sessionsGeneration.advance() }
                }),
            readers: ReaderPool(connections: connections.readers),
            earlierRun: connections.earlierRun, storeID: connections.storeID, lock: lock,
            availabilityGenerations: availabilityGenerations, sessionsGeneration: sessionsGeneration)
    }

    /// Finishes the writes already queued, then closes every connection.
    /// Calls made afterwards fail with `unavailable` / `STORE_CLOSED`.
    public func close() async {
        readers.close()
        await writer.close()
        lock.release()
        logger.info("store closed", metadata: ["path": "\(configuration.path)"])
    }

    /// The business's local date at the clock's now ("today"; "copy
    /// yesterday" copies from `today().previousDay`).
    public func today() -> LocalDate {
        calendar.today(at: clock.now)
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    public func schemaVersion() async throws -> Int {
        try await readers.perform { db in Int(try db.integer("PRAGMA user_version") ?? 0) }
    }

    /// The last hold and outbox row an earlier run wrote (ids only grow:
    /// `AUTOINCREMENT`), read at open before this process writes any. Start-up
    /// repair uses them instead of a time: a row this process writes in the
    /// second it starts must never be mistaken for one an earlier run left
    /// (the outbox worker's repair would run it next to its own attempt).
    struct EarlierRun: Sendable {
        var lastHoldID: Int64 = 0
        var lastOutboxID: Int64 = 0
        /// The later of the newest audit entry's time and the database's
        /// creation (``earlierRunsLastChange``).
        var lastChangeAt: Int64 = 0
    }

    /// When earlier runs of this database last recorded a change — the
    /// newest audit entry's time, read at open — or, if later (or none
    /// was ever recorded), when the database got its id: every earlier run
    /// stopped after this moment.
    public var earlierRunsLastChange: Instant {
        Instant(unixSeconds: earlierRun.lastChangeAt)
    }

    private struct Connections {
        var writer: SQLiteConnection
        var readers: [SQLiteConnection]
        var earlierRun = EarlierRun()
        var storeID: String
        /// `nil` when the log cannot be synced apart (not in WAL mode): the
        /// writer then keeps `synchronous = FULL`.
        var sync: WALSync?
        var checkpointer: Checkpointer?
    }

    private static func openConnections(configuration: Configuration, logger: Logger) throws
        -> Connections
    {
        let writer = try SQLiteConnection(
            path: configuration.path, busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
        do {
            let mode = try writer.row("PRAGMA journal_mode = WAL") { $0.text(0) } ?? ""
            if mode.lowercased() != "wal" {
                logger.warning("database is not in WAL mode", metadata: ["journal_mode": "\(mode)"])
            }
            // FULL: the WAL is fsynced at every commit — a booking commit
            // is what lets money be captured, so a committed booking must
            // survive anything once we have told anyone. Once the log can be
            // synced on a thread of its own (below), the writer switches to
            // NORMAL and that thread's fsync, before any answer, takes the
            // place of the one inside COMMIT (see `WALSync`).
            // temp_store = MEMORY: statements that may fail part-way keep
            // the pre-images of the pages they change in a statement
            // journal — a temporary *file* once it passes 64 KiB. When every
            // write had a savepoint of its own (see `WriterLane`), two thirds
            // of the writer's write syscalls went there (112-120 per
            // checkout pair, 36 without); such a journal is only needed to
            // roll a statement back, never after a crash, so memory is the
            // right place for it.
            try writer.execute(script: """
                PRAGMA synchronous = FULL;
                PRAGMA foreign_keys = ON;
                PRAGMA temp_store = MEMORY;
                """)
            try Migrations.migrate(writer, logger: logger)
            let earlierRun = EarlierRun(
                lastHoldID: try writer.integer("SELECT coalesce(max(hold_id), 0) FROM holds") ?? 0,
                lastOutboxID: try writer.integer("SELECT coalesce(max(outbox_id), 0) FROM outbox") ?? 0,
                lastChangeAt: try writer.integer(
                    """
                    SELECT max(coalesce((SELECT at FROM audit_log ORDER BY audit_id DESC LIMIT 1), 0), created_at)
                    FROM store_identity
                    """) ?? 0)
            let storeID = try writer.row("SELECT store_id FROM store_identity", [], { $0.text(0) })
            guard let storeID else {
                throw StoredDataError(what: "store identity")
            }

            var readers: [SQLiteConnection] = []
            for _ in 0..<configuration.readerCount {
                let reader = try SQLiteConnection(
                    path: configuration.path,
                    busyTimeoutMilliseconds: configuration.busyTimeoutMilliseconds)
                try reader.execute(script: """
                    PRAGMA foreign_keys = ON;
                    PRAGMA query_only = ON;
                    """)
                readers.append(reader)
            }
            guard mode.lowercased() == "wal", let walPath = writer.walPath,
                let sync = WALSync(walPath: walPath, logger: logger)
            else {
                return Connections(writer: writer, readers: readers, earlierRun: earlierRun, storeID: storeID)
            }
            // Passive checkpoints never wait; the idle truncation waits at
            // most this long for readers while holding writers off.
            let checkpointConnection = try SQLiteConnection(
                path: configuration.path, busyTimeoutMilliseconds: 100)
            // A checkpoint syncs the log before copying it back and the
            // database file after.
            try checkpointConnection.execute(script: "PRAGMA synchronous = FULL")
            try writer.execute(script: "PRAGMA synchronous = NORMAL")
            guard let databasePath = writer.databasePath,
                let checkpointer = Checkpointer(
                    connection: checkpointConnection, sync: sync, databasePath: databasePath,
                    threshold: configuration.checkpointFrames,
                    idleSeconds: configuration.idleCheckpointSeconds, logger: logger)
            else {
                // SQLite's own checkpoints then, inside the writer's commits.
                checkpointConnection.close()
                return Connections(writer: writer, readers: readers, earlierRun: earlierRun, storeID: storeID, sync: sync)
            }
            // No frame written before COMMIT (a full page cache grows
            // instead of spilling): the writer's first frame after a
            // finishing copy must wait for the database file's sync
            // (``Checkpointer``).
            try writer.execute(script: "PRAGMA cache_spill = OFF")
            try writer.trackWALFrames()
            return Connections(
                writer: writer, readers: readers, earlierRun: earlierRun, storeID: storeID, sync: sync,
                checkpointer: checkpointer)
        } catch {
            writer.close()
            throw error
        }
    }
}
