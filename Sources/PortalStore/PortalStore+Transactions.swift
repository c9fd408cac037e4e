import PortalDomain

extension PortalStore {
    /// Runs `body` in one `BEGIN IMMEDIATE` transaction on the writer, with
    /// "now" read from the clock after the write lock is taken. Any error
    /// rolls the whole transaction back, so a refused call writes nothing.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection, Instant) throws -> T
    ) async throws -> T {
        try await writer.perform { [clock] db, shouldAbort in
            try db.immediateTransaction(shouldAbort: shouldAbort) {
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
