import Logging
import PortalDomain
import PortalPayments
import PortalStore
import ServiceLifecycle

/// Settles abandoned holds: active holds with a PaymentIntent whose expiry is
/// more than ``Checkout/Configuration/holdGraceSeconds`` in the past (the
/// grace lets confirmations still in flight arrive).
///
/// For each it asks the provider about the PaymentIntent:
/// - authorised (`requires_capture`, or `succeeded`) and matching the hold →
///   it is finalized as the client would have (the client closed the browser
///   after paying and still gets the booking) — or, when the block has no
///   room left, the hold ends and the payment is cancelled;
/// - processing, or the provider cannot be reached → left for the next round;
/// - anything else (never paid, declined, abandoned 3-D Secure, or not
///   matching the hold) → the hold expires and the PaymentIntent is cancelled.
///
/// Before that, each round makes a **last call** on the active holds with a
/// PaymentIntent that expire before the next round (within
/// ``lastCallSeconds``): one already authorised and matching is booked
/// while the hold still holds its slot, so a client who paid in time and
/// closed the browser is never outbid during the grace by someone taking
/// the slot the expired hold no longer counts in. Any other state is left
/// alone (the client may still be confirming); such a hold is settled after
/// its grace as above.
///
/// It runs once at start (start-up repair) and then every
/// ``Checkout/Configuration/sweepInterval``.
public struct CheckoutSweeper: Service {
    private let checkout: Checkout
    private let logger: Logger

    /// What one round did.
    public struct Report: Hashable, Sendable {
        /// Holds turned into bookings.
        public var booked = 0
        /// Holds ended with their payment cancelled.
        public var released = 0
        /// Holds left for a later round.
        public var deferred = 0
    }

    /// How far ahead of expiry the last call looks: one round plus 5 s, so
    /// that every hold meets it in one or two rounds before it expires.
    var lastCallSeconds: Int64 {
        checkout.configuration.sweepInterval.components.seconds + 5
    }

    init(checkout: Checkout, logger: Logger) {
        self.checkout = checkout
        self.logger = logger
    }

    public func run() async throws {
        await releaseInterruptedCheckouts()
        var orphansSought = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // Until the provider has been reached once (it may be down at start).
            if !orphansSought { orphansSought = await cancelOrphanedPaymentIntents() }
            let report = await sweepOnce()
            if report != Report() {
                logger.info(
                    "Swept abandoned holds",
                    metadata: [
                        "booked": "\(report.booked)", "released": "\(report.released)",
                        "deferred": "\(report.deferred)",
                    ])
            }
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: checkout.configuration.sweepInterval)
            }
        }
    }

    /// Start-up repair: releases holds an earlier process took but never
    /// attached a PaymentIntent to (it stopped mid-`StartCheckout`).
    @discardableResult
    public func releaseInterruptedCheckouts() async -> Int {
        let released: [CapacityHold]
        do {
            released = try await checkout.store.releaseInterruptedCheckouts()
        } catch {
            logger.error("Could not release holds left mid-checkout", metadata: ["error": "\(error)"])
            return 0
        }
        if released.isEmpty { return 0 }
        logger.notice("Released holds left mid-checkout by an earlier run", metadata: ["count": "\(released.count)"])
        return released.count
    }

    /// Start-up repair, after ``releaseInterruptedCheckouts()``: cancels the
    /// open PaymentIntents an earlier run's unfinished `StartCheckout`s
    /// created and no hold or booking names
    /// (``Checkout/cancelOrphanedPaymentIntents()``). Returns `false` when
    /// the provider could not be reached (to be tried again).
    public func cancelOrphanedPaymentIntents() async -> Bool {
        guard let cancelled = await checkout.cancelOrphanedPaymentIntents() else { return false }
        if cancelled > 0 {
            logger.notice(
                "Cancelled the PaymentIntents unfinished checkouts of an earlier run left",
                metadata: ["count": "\(cancelled)"])
        }
        return true
    }

    /// One round at the store clock's now: the last call on holds about to
    /// expire, then every hold due for settlement.
    @discardableResult
    public func sweepOnce() async -> Report {
        var report = Report()
        do {
            let expiring = try await checkout.store.paidHoldsExpiringSoon(
                withinSeconds: lastCallSeconds, limit: 200)
            for record in expiring where !Task.isCancelled {
                await bookIfPaid(record, into: &report)
            }
            let due = try await checkout.store.holdsAwaitingSettlement(
                graceSeconds: checkout.configuration.holdGraceSeconds, limit: 200)
            for record in due where !Task.isCancelled {
                await settle(record, into: &report)
            }
        } catch {
            if !(error is CancellationError) {
                logger.error("The sweeper could not read the holds", metadata: ["error": "\(error)"])
            }
        }
        return report
    }

    private func settle(_ record: CheckoutHold, into report: inout Report) async {
        let hold = record.hold
        guard let paymentIntentID = hold.paymentIntentID else { return }
        let meta: Logger.Metadata = ["payment_intent": "\(paymentIntentID)", "block_id": "\(hold.block)"]
        let intent: PaymentIntent
        do {
            intent = try await checkout.gateway.retrievePaymentIntent(id: paymentIntentID)
        } catch {
            if PaymentFailureKind(classifying: error) == .notFound {
                await release(hold, reason: .expiredUnpaid, into: &report)
            } else {
                logger.warning("The sweeper could not read a PaymentIntent", metadata: meta.merging(["error": "\(error)"]) { $1 })
                report.deferred += 1
            }
            return
        }

        switch intent.status {
        case .requiresCapture, .succeeded:
            let verified: VerifiedPayment
            do {
                verified = try PaymentVerification.verify(intent, for: hold)
            } catch {
                logger.error("An abandoned hold's payment does not match it; releasing it", metadata: meta)
                await release(hold, reason: .paymentMismatch, into: &report)
                return
            }
            await book(hold, paidBy: verified, meta: meta, into: &report)
        case .processing:
            report.deferred += 1
        default:
            await release(hold, reason: .expiredUnpaid, into: &report)
        }
    }

    /// The last call on a hold that has not expired yet: booked if its
    /// payment is authorised and matches (what `verify` checks); otherwise
    /// left as it is (nothing counted), for the client or a later round.
    private func bookIfPaid(_ record: CheckoutHold, into report: inout Report) async {
        let hold = record.hold
        guard let paymentIntentID = hold.paymentIntentID,
            let intent = try? await checkout.gateway.retrievePaymentIntent(id: paymentIntentID),
            let verified = try? PaymentVerification.verify(intent, for: hold)
        else { return }
        let meta: Logger.Metadata = ["payment_intent": "\(paymentIntentID)", "block_id": "\(hold.block)"]
        await book(hold, paidBy: verified, meta: meta, into: &report)
    }

    /// Settles a paid hold exactly as `FinalizeCheckout` would.
    private func book(
        _ hold: CapacityHold, paidBy payment: VerifiedPayment, meta: Logger.Metadata, into report: inout Report
    ) async {
        do {
            let booking = try await checkout.settle(hold.token, of: nil, payment: payment, actor: "sweeper")
            logger.notice("Booked an abandoned paid hold", metadata: meta.merging(["booking_id": "\(booking.id)"]) { $1 })
            report.booked += 1
        } catch let refusal as PortalError where refusal.kind != .unavailable && refusal.kind != .internal {
            // Refused and released (no room), or settled meanwhile by the client.
            report.released += 1
        } catch {
            logger.warning("The sweeper could not settle a paid hold", metadata: meta.merging(["error": "\(error)"]) { $1 })
            report.deferred += 1
        }
    }

    private func release(_ hold: CapacityHold, reason: HoldEndReason, into report: inout Report) async {
        do {
            if let cancel = try await checkout.store.expireUnpaidHold(hold.token, reason: reason) {
                await checkout.runner.attempt(cancel)
            }
            report.released += 1
        } catch {
            logger.warning("The sweeper could not release a hold", metadata: ["error": "\(error)"])
            report.deferred += 1
        }
    }
}
