import Logging
import PortalStore
import ServiceLifecycle

/// Removes expired holds in the background.
///
/// Expired holds never count against capacity, whether or not they have been
/// purged (every count filters on the expiry); purging only keeps the table
/// small and writes each hold's `hold.expired` audit entry.
public struct ExpiredHoldPurger: Service {
    private let store: PortalStore
    private let interval: Duration
    private let logger: Logger

    /// A purger that runs every `interval` (30 seconds by default).
    public init(store: PortalStore, interval: Duration = .seconds(30), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // Stops at graceful shutdown: the sleep is cancelled and the loop ends.
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let purged = try await store.purgeExpiredHolds()
                if purged > 0 { logger.info("Purged expired holds", metadata: ["count": "\(purged)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.error("Purging expired holds failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
