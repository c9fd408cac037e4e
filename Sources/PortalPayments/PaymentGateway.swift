/// The payment operations the booking needs: card PaymentIntents that are
/// authorised first and captured (or cancelled) later — the *port* through
/// which checkout talks to a payment provider.
///
/// The port lives in its own module so that dependencies point inward:
/// `PortalCheckout` (the use case) and `PortalStripe` (the adapter over
/// Stripe's HTTP API) both depend on it, and neither on the other. Adapters:
/// `StripeClient` (PortalStripe) and ``SimulatedPaymentGateway`` (demos and
/// benchmarks only).
///
/// Every call that changes state takes an idempotency key chosen by the
/// caller; a caller that retries an operation (after a crash, a timeout, …)
/// must pass the same key again, so that the operation happens at most once
/// at the provider. Errors conform to ``PaymentGatewayFailure`` (or are
/// `CancellationError` if the calling task was cancelled between two attempts),
/// so that callers can tell "try again later" from "refused".
///
/// ```swift
/// let intent = try await gateway.createPaymentIntent(
///     amountCents: 2500, currency: "gbp",
///     metadata: ["portal_hold_token": token],
///     idempotencyKey: "portal-hold-\(token)-create")
/// // … the browser confirms with `intent.clientSecret` …
/// let paid = try await gateway.retrievePaymentIntent(id: intent.id)
/// if paid.status == .requiresCapture { /* commit the booking, then capture */ }
/// ```
public protocol PaymentGateway: Sendable {
    /// Creates a card PaymentIntent with `capture_method=manual`: confirming it
    /// only authorises the amount; nothing is charged until it is captured.
    ///
    /// - Parameters:
    ///   - amountCents: the amount in the currency's minor unit (> 0).
    ///   - currency: ISO 4217 code, lower case as Stripe writes it (`gbp`).
    ///   - metadata: stored on the PaymentIntent and returned by every read.
    ///     Keys must not contain `[` or `]`.
    ///   - idempotencyKey: 1–255 printable ASCII characters; the same key for
    ///     every retry of this creation.
    func createPaymentIntent(
        amountCents: Int,
        currency: String,
        metadata: [String: String],
        idempotencyKey: String
    ) async throws -> PaymentIntent

    /// Reads a PaymentIntent as Stripe has it now.
    func retrievePaymentIntent(id: String) async throws -> PaymentIntent

    /// Captures the full authorised amount of a `requiresCapture` PaymentIntent.
    func capturePaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent

    /// Cancels a PaymentIntent that is not captured yet, releasing any
    /// authorisation: the client is never charged.
    func cancelPaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent

    /// A warning for the checkout to log (on its first checkout, then at
    /// most once a minute) when this gateway moves no real money
    /// (``SimulatedPaymentGateway``); `nil` for real providers.
    var simulationWarning: String? { get }

    /// The PaymentIntents created at or after `since` (Unix seconds), as the
    /// provider has them now — at most `limit`. For start-up repair, which
    /// looks among them for those an interrupted checkout created and never
    /// stored (docs/checkout.md).
    func paymentIntents(createdSince since: Int64, limit: Int) async throws -> [PaymentIntent]
}

extension PaymentGateway {
    /// Real providers move real money: no warning.
    public var simulationWarning: String? { nil }

    /// A gateway that cannot list answers ``PaymentListingUnsupported``.
    public func paymentIntents(createdSince since: Int64, limit: Int) async throws -> [PaymentIntent] {
        throw PaymentListingUnsupported()
    }
}

/// The gateway cannot list its PaymentIntents (asking again will not help).
public struct PaymentListingUnsupported: PaymentGatewayFailure, CustomStringConvertible {
    public init() {}
    public var paymentFailureKind: PaymentFailureKind { .refused }
    public var description: String { "this payment gateway cannot list PaymentIntents" }
}
