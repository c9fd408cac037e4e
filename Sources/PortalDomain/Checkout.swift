/// Why a hold stopped being active, stored with it so that a repeated call
/// gets the same answer (`holds.end_reason`).
public enum HoldEndReason: String, Hashable, Sendable, CaseIterable {
    /// It became a booking (state `converted`).
    case booked
    /// The client gave it up (`CancelCheckout`).
    case cancelledByClient = "cancelled_by_client"
    /// Paid after it expired, and the block had no room left.
    case capacityGone = "capacity_gone"
    /// Paid after it expired, and the block had started by then.
    case blockStarted = "block_started"
    /// Paid after it expired, and the client meanwhile held or booked an
    /// overlapping slot of the same service where overlap is not allowed.
    case overlapping
    /// Expired without an authorised payment (the sweeper).
    case expiredUnpaid = "expired_unpaid"
    /// The sweeper found its PaymentIntent authorised for another amount,
    /// currency or hold.
    case paymentMismatch = "payment_mismatch"
    /// Released at once because the payment provider could not be reached.
    case paymentProviderUnavailable = "payment_provider_unavailable"
    /// Released at once because the price changed while it was taken.
    case priceChanged = "price_changed"
    /// The `StartCheckout` that took it stopped before it answered, so no
    /// client can pay for it: its process died (released at start-up), or
    /// its deadline passed (released before the call is answered).
    case interrupted

    /// The error a client gets when it tries to finalize a hold that ended
    /// this way. `nil` for ``booked`` (that answers with the booking).
    public var finalizeRefusal: PortalError? {
        switch self {
        case .booked:
            return nil
        case .cancelledByClient, .paymentProviderUnavailable, .priceChanged, .interrupted:
            return .failedPrecondition(
                .holdCancelled, "This checkout was cancelled; start a new one.")
        case .capacityGone:
            return .failedPrecondition(
                .capacityGone,
                "The hold had expired and the block is now full: the payment was released and you were not charged.")
        case .blockStarted:
            return .failedPrecondition(
                .blockStarted,
                "The hold had expired and the block has started: the payment was released and you were not charged.")
        case .overlapping:
            return .failedPrecondition(
                .overlappingBooking,
                "The hold had expired and you now have an overlapping booking or hold: the payment was released and you were not charged.")
        case .expiredUnpaid, .paymentMismatch:
            return .failedPrecondition(
                .holdExpired,
                "The hold expired before it was paid: the payment was released and you were not charged.")
        }
    }
}

/// A hold as the checkout sees it: the hold, the PaymentIntent's client
/// secret (only for the client that pays; never logged) and why it ended.
public struct CheckoutHold: Hashable, Sendable, CustomStringConvertible {
    /// The hold.
    public let hold: CapacityHold
    /// The PaymentIntent's `client_secret`, once checkout created one.
    public let clientSecret: String?
    /// Why the hold is no longer active; `nil` while it is.
    public let endReason: HoldEndReason?

    /// Creates a value (the store creates real ones).
    public init(hold: CapacityHold, clientSecret: String?, endReason: HoldEndReason?) {
        self.hold = hold
        self.clientSecret = clientSecret
        self.endReason = endReason
    }

    /// Names the hold without its token or client secret, so it can be logged.
    public var description: String {
        "CheckoutHold(block \(hold.block), \(hold.service), client \(hold.client), \(hold.state)"
            + (hold.paymentIntentID.map { ", \($0)" } ?? "") + ")"
    }
}

/// A payment that was checked with the provider: authorised (or already
/// captured) for exactly the hold's amount and currency, naming the hold.
public struct VerifiedPayment: Hashable, Sendable {
    /// The PaymentIntent id.
    public let paymentIntentID: String
    /// The authorised amount, minor units.
    public let amountCents: Int64
    /// Its currency.
    public let currency: String
    /// True when the money was already captured (status `succeeded`).
    public let isCaptured: Bool

    /// Creates a verified payment.
    public init(paymentIntentID: String, amountCents: Int64, currency: String, isCaptured: Bool) {
        self.paymentIntentID = paymentIntentID
        self.amountCents = amountCents
        self.currency = currency
        self.isCaptured = isCaptured
    }
}

/// A payment call that must follow a commit (capture, cancel): a row of the
/// outbox, written in the same transaction as the state change that needs it
/// and carried out by a worker with the same idempotency key until done.
public struct PaymentCommand: Hashable, Sendable, Identifiable {
    /// What to do with the PaymentIntent.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// Capture the authorised amount (a booking was committed).
        case capture
        /// Cancel it, releasing any authorisation (no booking will exist).
        case cancel
    }

    /// The outbox row id.
    public let id: Int64
    /// What to do.
    public let kind: Kind
    /// The PaymentIntent.
    public let paymentIntentID: String
    /// The idempotency key, the same on every attempt.
    public let idempotencyKey: String
    /// How many attempts were started so far.
    public let attempts: Int
    /// When the next attempt is due.
    public let nextAttemptAt: Instant
    /// When the row was written.
    public let createdAt: Instant
    /// When it was carried out (or settled otherwise); `nil` while pending.
    public let doneAt: Instant?
    /// The last failure, for operators (never a secret).
    public let lastError: String?

    /// Creates a value (the store creates real ones).
    public init(
        id: Int64, kind: Kind, paymentIntentID: String, idempotencyKey: String, attempts: Int,
        nextAttemptAt: Instant, createdAt: Instant, doneAt: Instant?, lastError: String?
    ) {
        self.id = id
        self.kind = kind
        self.paymentIntentID = paymentIntentID
        self.idempotencyKey = idempotencyKey
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.doneAt = doneAt
        self.lastError = lastError
    }

    /// The idempotency key of an operation on a hold's PaymentIntent, derived
    /// from the hold so that every retry — after a timeout, a crash, a
    /// restart — sends the same one: `portal-hold-<token>-<operation>`.
    public static func idempotencyKey(forHold token: HoldToken, operation: String) -> String {
        "portal-hold-\(token.rawValue)-\(operation)"
    }

    /// The idempotency key of cancelling a PaymentIntent no hold keeps (a
    /// duplicate created by a retry): `portal-pi-<id>-cancel`.
    public static func idempotencyKey(forOrphan paymentIntentID: String) -> String {
        "portal-pi-\(paymentIntentID)-cancel"
    }
}

/// How a payment command ended, as recorded in the outbox and the audit log.
public enum PaymentCommandResult: Hashable, Sendable {
    /// The PaymentIntent is captured (now, or it already was).
    case captured
    /// The PaymentIntent is cancelled (now, or it already was).
    case canceled
    /// The provider's state makes the command moot or impossible (a capture
    /// of a cancelled intent, a cancel of a captured or unknown one): recorded
    /// with the note for staff, never retried.
    case abandoned(note: String)
}

/// What settling a paid hold did (`FinalizeCheckout`, or the sweeper).
public enum HoldSettlement: Hashable, Sendable {
    /// A new booking was committed; its capture is queued (`nil` when the
    /// payment was already captured).
    case booked(Booking, capture: PaymentCommand?)
    /// The hold had already become this booking: nothing was written.
    case alreadyBooked(Booking)
    /// The hold had expired and could not be booked: it was closed with this
    /// reason and the PaymentIntent's cancellation queued (committed).
    case refused(HoldEndReason, cancel: PaymentCommand?)
    /// The hold had already ended (cancelled or expired): nothing was written.
    case closed(HoldState, HoldEndReason?)
}
