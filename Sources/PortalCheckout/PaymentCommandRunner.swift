import Logging
import PortalDomain
import PortalPayments
import PortalStore

/// Carries out one outbox row (capture or cancel) with its own idempotency
/// key: claims it, calls the provider, and records the result — or schedules
/// the next attempt with backoff. Used by the request that committed (a
/// direct first attempt) and by the ``OutboxWorker`` (every later one).
///
/// Answers that say the work is already done ("already captured", "already
/// cancelled" — Stripe answers those with an error, and localstripe ignores
/// idempotency keys altogether) are resolved by reading the PaymentIntent:
/// its status, not the error, decides whether the row is done.
struct PaymentCommandRunner: Sendable {
    let store: PortalStore
    let gateway: any PaymentGateway
    let configuration: Checkout.Configuration
    let logger: Logger

    /// How one attempt ended.
    enum Outcome: Equatable, Sendable {
        /// Someone else has the row, or it is done.
        case notClaimed
        /// Recorded as done with this result.
        case done(PaymentCommandResult)
        /// Failed; retried later.
        case retryLater
    }

    /// Makes one attempt at `command`, never throwing: whatever fails is
    /// logged and left for a later attempt.
    ///
    /// - Parameter evenIfNotDue: take the row even under another lease
    ///   (start-up repair: the process that held it is gone).
    @discardableResult
    func attempt(_ command: PaymentCommand, evenIfNotDue: Bool = false) async -> Outcome {
        let claimed: PaymentCommand
        do {
            guard
                let row = try await store.claimPaymentCommand(
                    command.id, leaseSeconds: configuration.outboxLeaseSeconds, evenIfNotDue: evenIfNotDue)
            else { return .notClaimed }
            claimed = row
        } catch {
            logger.warning("Could not claim a payment call", metadata: metadata(command, error: error))
            return .retryLater
        }
        return await attempt(claimed: claimed)
    }

    /// Makes one attempt at a row the caller has already claimed (written
    /// claimed in the transaction that queued it), never throwing.
    ///
    /// - Parameter booking: the booking of a capture row: a capture the
    ///   provider made is then recorded in the background
    ///   (``PortalStore/recordCaptureInBackground(_:of:)``) and the attempt
    ///   returns without waiting for that write; any other result is
    ///   recorded before it returns.
    @discardableResult
    func attempt(claimed: PaymentCommand, recordingCaptureOf booking: BookingID? = nil) async -> Outcome {
        let result: PaymentCommandResult?
        do {
            let intent: PaymentIntent
            switch claimed.kind {
            case .capture:
                intent = try await gateway.capturePaymentIntent(
                    id: claimed.paymentIntentID, idempotencyKey: claimed.idempotencyKey)
            case .cancel:
                intent = try await gateway.cancelPaymentIntent(
                    id: claimed.paymentIntentID, idempotencyKey: claimed.idempotencyKey)
            }
            result = Self.result(of: claimed.kind, status: intent.status)
        } catch {
            let kind = PaymentFailureKind(classifying: error)
            if kind == .unavailable {
                return await retryLater(claimed, error: error)
            }
            // Refused as asked: the PaymentIntent's own state says whether
            // the work is done already (or can never be done).
            logger.notice("Payment call refused; reading the PaymentIntent", metadata: metadata(claimed, error: error))
            do {
                let intent = try await gateway.retrievePaymentIntent(id: claimed.paymentIntentID)
                result = Self.result(of: claimed.kind, status: intent.status)
            } catch {
                if PaymentFailureKind(classifying: error) == .notFound {
                    result = .abandoned(note: "the provider does not know this PaymentIntent")
                } else {
                    return await retryLater(claimed, error: error)
                }
            }
        }
        guard let result else {
            return await retryLater(claimed, error: PaymentStateNotFinal())
        }
        if let booking, claimed.kind == .capture, result == .captured {
            configuration.faults.captureMade()
            store.recordCaptureInBackground(claimed, of: booking)
        } else {
            do {
                try await store.completePaymentCommand(claimed.id, result: result)
            } catch {
                // The lease runs out and the call is made again; the provider's
                // state then settles it.
                logger.warning("Could not record a payment call's result", metadata: metadata(claimed, error: error))
                return .retryLater
            }
        }
        switch (claimed.kind, result) {
        case (.capture, .captured), (.cancel, .canceled):
            logger.info("Payment call done", metadata: metadata(claimed))
        default:
            // Money is not where the booking says it should be: staff must look.
            logger.error(
                "Payment call settled unexpectedly", metadata: metadata(claimed).merging(["result": "\(result)"]) { $1 })
        }
        return .done(result)
    }

    /// What a PaymentIntent's status means for a capture or a cancel; `nil`
    /// while it is not final (try again later).
    static func result(of kind: PaymentCommand.Kind, status: PaymentIntent.Status) -> PaymentCommandResult? {
        switch (kind, status) {
        case (_, .succeeded): return .captured
        case (_, .canceled): return .canceled
        default: return nil
        }
    }

    private func retryLater(_ command: PaymentCommand, error: any Error) async -> Outcome {
        let delay = configuration.backoffSeconds(afterAttempt: command.attempts)
        var meta = metadata(command, error: error)
        meta["retry_in_s"] = "\(delay)"
        logger.warning("Payment call failed; will retry with the same idempotency key", metadata: meta)
        do {
            try await store.retryPaymentCommandLater(command.id, afterSeconds: delay, error: "\(error)")
        } catch {
            logger.warning("Could not schedule a payment call's retry", metadata: metadata(command, error: error))
        }
        return .retryLater
    }

    private func metadata(_ command: PaymentCommand, error: (any Error)? = nil) -> Logger.Metadata {
        var meta: Logger.Metadata = [
            "outbox_id": "\(command.id)", "kind": "\(command.kind.rawValue)",
            "payment_intent": "\(command.paymentIntentID)", "attempt": "\(command.attempts)",
        ]
        if let error { meta["error"] = "\(error)" }
        return meta
    }
}

/// The PaymentIntent is neither captured nor cancelled yet.
struct PaymentStateNotFinal: Error, CustomStringConvertible {
    var description: String { "the PaymentIntent is not in a final state yet" }
}
