import Foundation
import PortalPayments

/// Stripe's JSON for a PaymentIntent; only the fields the domain reads.
struct PaymentIntentPayload: Decodable {
    struct LastPaymentError: Decodable {
        var code: String?
        var decline_code: String?
        var message: String?
    }

    var id: String
    var status: String
    var amount: Int
    var amount_capturable: Int?
    var amount_received: Int?
    var currency: String
    var client_secret: String
    var metadata: [String: String]?
    var capture_method: String?
    var last_payment_error: LastPaymentError?

    var paymentIntent: PaymentIntent {
        PaymentIntent(
            id: id,
            status: .init(rawValue: status),
            amount: amount,
            amountCapturable: amount_capturable,
            amountReceived: amount_received,
            currency: currency,
            clientSecret: client_secret,
            metadata: metadata ?? [:],
            // Stripe's default when the field is absent.
            captureMethod: .init(rawValue: capture_method ?? "automatic"),
            lastPaymentError: last_payment_error.map {
                .init(code: $0.code, declineCode: $0.decline_code, message: $0.message)
            }
        )
    }
}

/// One page of `GET /v1/payment_intents`: newest first; `created` is Unix
/// seconds. An item this client cannot read as a PaymentIntent (another
/// integration's, in a shape it does not expect) has no `intent` rather
/// than failing the whole page.
struct PaymentIntentListPayload: Decodable {
    struct Item: Decodable {
        var id: String
        var created: Int64
        var intent: PaymentIntentPayload?

        init(from decoder: any Decoder) throws {
            struct Head: Decodable {
                var id: String
                var created: Int64
            }
            let head = try Head(from: decoder)
            (id, created) = (head.id, head.created)
            intent = try? PaymentIntentPayload(from: decoder)
        }
    }

    var data: [Item]
    var has_more: Bool
}

/// Stripe's error body: `{"error": {"type", "code", "decline_code", "message", "param"}}`.
struct StripeErrorPayload: Decodable {
    struct Body: Decodable {
        var type: String?
        var code: String?
        var decline_code: String?
        var message: String?
        var param: String?
    }

    var error: Body
}
