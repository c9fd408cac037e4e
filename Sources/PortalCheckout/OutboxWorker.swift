import Logging
import PortalDomain
import PortalStore
import ServiceLifecycle

/// Carries out the outbox's payment calls (captures and cancellations) until
/// each is done, retrying with backoff and the row's own idempotency key.
///
/// At start it first repairs what an earlier process left half done: every
/// row that process wrote that is not done is attempted at once, even one
/// whose lease has not run out (the process that held it is gone). Then
/// it polls for due rows every ``Checkout/Configuration/outboxPollInterval``.
/// Stops at graceful shutdown; a row in the middle of an attempt finishes it.
public struct OutboxWorker: Service {
    private let checkout: Checkout
    private let logger: Logger

    init(checkout: Checkout, logger: Logger) {
        self.checkout = checkout
        self.logger = logger
    }

    public func run() async throws {
        _ = await repair()
        let batch = 50
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // A full batch means more may be due: go on at once. Otherwise
            // wait, so that rows that cannot be claimed never spin the loop.
            if await runDue(limit: batch) < batch {
                try? await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: checkout.configuration.outboxPollInterval)
                }
            }
        }
    }

    /// Start-up repair: attempts every row an earlier process wrote that is
    /// not done, leases notwithstanding (that process is gone: the store's
    /// lock says no other one runs). Rows this process writes meanwhile are
    /// left to their own attempts and the normal rounds. Returns how many
    /// were attempted.
    @discardableResult
    public func repair() async -> Int {
        var attempted = 0
        var seen = Set<Int64>()
        while !Task.isCancelled {
            let pending: [PaymentCommand]
            do {
                pending = try await checkout.store.pendingPaymentCommands(
                    dueOnly: false, leftByEarlierRun: true, limit: 100)
            } catch {
                logger.error("Start-up repair could not read the outbox", metadata: ["error": "\(error)"])
                return attempted
            }
            let fresh = pending.filter { !seen.contains($0.id) }
            if fresh.isEmpty { break }
            if attempted == 0 {
                logger.notice("Repairing payment calls left by an earlier run", metadata: ["count": "\(pending.count)"])
            }
            for command in fresh {
                seen.insert(command.id)
                await checkout.runner.attempt(command, evenIfNotDue: true)
                attempted += 1
            }
        }
        return attempted
    }

    /// One round: attempts every due row. Returns how many were attempted.
    @discardableResult
    public func runDue(limit: Int = 50) async -> Int {
        do {
            let due = try await checkout.store.pendingPaymentCommands(dueOnly: true, limit: limit)
            for command in due {
                await checkout.runner.attempt(command)
            }
            return due.count
        } catch is CancellationError {
            return 0
        } catch {
            logger.error("Could not read the outbox", metadata: ["error": "\(error)"])
            return 0
        }
    }
}
