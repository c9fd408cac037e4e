import PortalPayments

extension StripeError: PaymentGatewayFailure {
    /// Stripe's failure classes as the checkout sees them: transient failures
    /// (outages, timeouts, 429, 5xx, 409 idempotency conflicts) are
    /// `unavailable`; card errors `declined`; a 404 `notFound`; 401/403
    /// `misconfigured`; every other refusal `refused`.
    public var paymentFailureKind: PaymentFailureKind {
        if isTransient { return .unavailable }
        switch self {
        case .cardError: return .declined
        case .authentication: return .misconfigured
        case .invalidRequest(let details) where details.httpStatus == 404: return .notFound
        case .invalidRequest, .idempotencyError, .apiError, .rateLimited, .network, .unexpectedResponse:
            return .refused
        }
    }
}
