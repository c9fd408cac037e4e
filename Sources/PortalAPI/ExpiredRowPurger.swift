import Logging
import PortalStore
import ServiceLifecycle

/// Removes expired holds and expired portal sessions in the background.
///
/// Neither counts for anything once expired, whether or not it has been
/// purged: every capacity count filters on the hold's expiry, and an expired
/// session never authenticates. Purging keeps the tables small (a session
/// row per login would otherwise stay until its user logs in again) and
/// writes each purged hold's `hold.expired` audit entry.
public struct ExpiredRowPurger: Service {
    private let store: PortalStore
    private let interval: Duration
    private let logger: Logger

    /// Rows removed in one transaction; a pass repeats while one is full,
    /// so that a backlog is cleared without one long write.
    static let batch = 1000

    /// A purger that runs a pass every `interval` (30 seconds by default).
    public init(store: PortalStore, interval: Duration = .seconds(30), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // Stops at graceful shutdown: the sleep is cancelled and the loop ends.
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let holds = try await purgeAll { try await store.purgeExpiredHolds(limit: $0) }
                if holds > 0 { logger.info("Purged expired holds", metadata: ["count": "\(holds)"]) }
                let sessions = try await purgeAll { try await store.purgeExpiredSessions(limit: $0) }
                if sessions > 0 { logger.info("Purged expired sessions", metadata: ["count": "\(sessions)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.error("Purging expired rows failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Calls `purge` with ``batch`` until it removes fewer; returns the total.
    private func purgeAll(_ purge: (Int) async throws -> Int) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let removed = try await purge(Self.batch)
            total += removed
            if removed < Self.batch { break }
        }
        return total
    }
}
