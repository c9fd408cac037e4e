import PortalPayments

/// A test gateway that changes a call or two of a real one (`inner`): every
/// call it does not implement itself goes to `inner` unchanged.
protocol WrappingGateway: PaymentGateway {
    var inner: any PaymentGateway { get }
}

extension WrappingGateway {
    func createPaymentIntent(
        amountCents: Int, currency: String, metadata: [String: String], idempotencyKey: String
    ) async throws -> PaymentIntent {
        try await inner.createPaymentIntent(
            amountCents: amountCents, currency: currency, metadata: metadata, idempotencyKey: idempotencyKey)
    }

    func retrievePaymentIntent(id: String) async throws -> PaymentIntent {
        try await inner.retrievePaymentIntent(id: id)
    }

    func capturePaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        try await inner.capturePaymentIntent(id: id, idempotencyKey: idempotencyKey)
    }

    func cancelPaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        try await inner.cancelPaymentIntent(id: id, idempotencyKey: idempotencyKey)
    }

    func paymentIntents(createdSince since: Int64, limit: Int) async throws -> [PaymentIntent] {
        try await inner.paymentIntents(createdSince: since, limit: limit)
    }
}
