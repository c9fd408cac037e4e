/// What a failed payment call means for the caller: whether the same call
/// may succeed later, or the request itself was refused.
public enum PaymentFailureKind: Sendable, Hashable, CustomStringConvertible {
    /// The provider could not be reached, timed out, rate-limited us or failed
    /// on its side. The same call with the same idempotency key may succeed
    /// later (the request may or may not have been applied).
    case unavailable
    /// The card was declined or could not be charged.
    case declined
    /// The object named does not exist at the provider.
    case notFound
    /// The provider refused the request as it is (wrong state for the object,
    /// invalid parameters, an idempotency key reused with other parameters).
    /// Sending it again unchanged will not help.
    case refused
    /// Our own credentials were refused: the server is misconfigured.
    case misconfigured

    public var description: String {
        switch self {
        case .unavailable: "unavailable"
        case .declined: "declined"
        case .notFound: "not found"
        case .refused: "refused"
        case .misconfigured: "misconfigured"
        }
    }
}

/// An error thrown by a ``PaymentGateway`` that says what kind of failure it is.
///
/// Errors that do not conform (for example `CancellationError`) are treated
/// by callers as ``PaymentFailureKind/unavailable``: the outcome is unknown,
/// so the operation is retried later with the same idempotency key.
public protocol PaymentGatewayFailure: Error {
    /// What the failure means for the caller.
    var paymentFailureKind: PaymentFailureKind { get }
}

extension PaymentFailureKind {
    /// The kind of any error a gateway threw: its own classification, or
    /// ``unavailable`` for errors that do not classify themselves.
    public init(classifying error: any Error) {
        self = (error as? any PaymentGatewayFailure)?.paymentFailureKind ?? .unavailable
    }
}
