import PortalDomain

extension PortalStore {
    /// Runs `body` in one `BEGIN IMMEDIATE` transaction on the writer, with
    /// "now" read from the clock after the write lock is taken. Any error
    /// rolls the whole transaction back, so a refused call writes nothing.
    ///
    /// - Parameter changes: what the write may change. When it changed any
    ///   row, the matching generations advance right after the transaction
    ///   ends and before the caller is answered, so no cache serves what the
    ///   write made stale (see ``StoreGeneration``). The default is
    ///   everything; a write names less only when it is sure.
    func write<T: Sendable>(
        changes: StoreChanges = .all,
        _ body: @escaping @Sendable (SQLiteConnection, Instant) throws -> T
    ) async throws -> T {
        try await writer.perform { [clock, availabilityGeneration, sessionsGeneration] db, shouldAbort in
            let changedBefore = db.totalChanges
            defer {
                // Also after a rollback: advancing is always safe.
                if db.totalChanges != changedBefore {
                    if changes.contains(.availability) { availabilityGeneration.advance() }
                    if changes.contains(.sessions) { sessionsGeneration.advance() }
                }
            }
            return try db.immediateTransaction(shouldAbort: shouldAbort) {
                try body(db, clock.now)
            }
        }
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
