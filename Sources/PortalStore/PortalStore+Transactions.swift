import PortalDomain

extension PortalStore {
    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the writer, with
    /// "now" read from the clock after the write lock is taken. Any error
    /// rolls the write back, so a refused call writes nothing. The writer
    /// may commit several writes together (see ``WriterLane``); the call
    /// returns once its write is committed and durable.
    ///
    /// - Parameters:
    ///   - changes: what the write may change. When a commit changed rows,
    ///     the matching generations advance right after it and before any
    ///     caller is answered, so no cache serves what the write made stale
    ///     (see ``StoreGeneration``). The default is everything; a write
    ///     names less only when it is sure.
    ///   - evenIfCallerGivesUp: run and commit the write even if the calling
    ///     task is cancelled or its ``CallDeadline`` has passed — for writes
    ///     that undo what a call did before it ran out.
    func write<T: Sendable>(
        changes: StoreChanges = .all, evenIfCallerGivesUp: Bool = false,
        _ body: @escaping @Sendable (SQLiteConnection, Instant) throws -> T
    ) async throws -> T {
        try await writer.perform(changes: changes, evenIfCallerGivesUp: evenIfCallerGivesUp) { [clock] db, _ in
            try body(db, clock.now)
        }
    }

    /// As ``write(changes:evenIfCallerGivesUp:_:)``, for a write that knows what it may have
    /// changed only once it has run: `body` returns its value and those
    /// changes.
    func write<T: Sendable>(
        declaring body: @escaping @Sendable (SQLiteConnection, Instant) throws -> (value: T, changes: StoreChanges)
    ) async throws -> T {
        try await writer.perform(declaring: { [clock] db, _ in try body(db, clock.now) })
    }

    /// Runs `body` in one read transaction (a consistent snapshot) on a
    /// reader connection.
    func read<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection, Instant) throws -> T
    ) async throws -> T {
        try await readers.perform { [clock] db in
            try db.readTransaction { try body(db, clock.now) }
        }
    }
}
