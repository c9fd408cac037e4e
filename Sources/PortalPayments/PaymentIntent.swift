/// A Stripe PaymentIntent, as far as the booking domain reads it.
public struct PaymentIntent: Sendable, Hashable {
    /// Where a PaymentIntent is in its life cycle (Stripe's `status`).
    public enum Status: Sendable, Hashable, CustomStringConvertible {
        /// No payment method attached yet, or the last one failed.
        case requiresPaymentMethod
        /// A payment method is attached; the browser has not confirmed yet.
        case requiresConfirmation
        /// The customer must act (3-D Secure) before the card can be charged.
        case requiresAction
        /// The payment is being processed.
        case processing
        /// Authorised (manual capture): the money is held, not yet taken.
        case requiresCapture
        /// Cancelled: any authorisation is released.
        case canceled
        /// Captured: the customer is charged.
        case succeeded
        /// A status this client does not know (Stripe added one).
        case unknown(String)

        /// Maps Stripe's wire value.
        public init(rawValue: String) {
            switch rawValue {
            case "requires_payment_method": self = .requiresPaymentMethod
            case "requires_confirmation": self = .requiresConfirmation
            case "requires_action": self = .requiresAction
            case "processing": self = .processing
            case "requires_capture": self = .requiresCapture
            case "canceled": self = .canceled
            case "succeeded": self = .succeeded
            default: self = .unknown(rawValue)
            }
        }

        /// Stripe's wire value.
        public var rawValue: String {
            switch self {
            case .requiresPaymentMethod: "requires_payment_method"
            case .requiresConfirmation: "requires_confirmation"
            case .requiresAction: "requires_action"
            case .processing: "processing"
            case .requiresCapture: "requires_capture"
            case .canceled: "canceled"
            case .succeeded: "succeeded"
            case .unknown(let value): value
            }
        }

        public var description: String { rawValue }
    }

    /// When the money is taken (Stripe's `capture_method`).
    public enum CaptureMethod: Sendable, Hashable, CustomStringConvertible {
        /// Captured by an explicit call after authorisation (what this client creates).
        case manual
        /// Captured at confirmation.
        case automatic
        /// Captured at confirmation, asynchronously.
        case automaticAsync
        /// A value this client does not know.
        case unknown(String)

        /// Maps Stripe's wire value.
        public init(rawValue: String) {
            switch rawValue {
            case "manual": self = .manual
            case "automatic": self = .automatic
            case "automatic_async": self = .automaticAsync
            default: self = .unknown(rawValue)
            }
        }

        /// Stripe's wire value.
        public var rawValue: String {
            switch self {
            case .manual: "manual"
            case .automatic: "automatic"
            case .automaticAsync: "automatic_async"
            case .unknown(let value): value
            }
        }

        public var description: String { rawValue }
    }

    /// Why the last payment attempt failed (Stripe's `last_payment_error`).
    public struct PaymentError: Sendable, Hashable {
        /// Stripe's error code, e.g. `card_declined`.
        public var code: String?
        /// The issuer's reason, e.g. `insufficient_funds`, when Stripe gives one.
        public var declineCode: String?
        /// Stripe's human-readable message.
        public var message: String?

        public init(code: String? = nil, declineCode: String? = nil, message: String? = nil) {
            self.code = code
            self.declineCode = declineCode
            self.message = message
        }
    }

    /// Stripe's id, `pi_…`.
    public var id: String
    /// The life-cycle state.
    public var status: Status
    /// The amount in minor units.
    public var amount: Int
    /// The amount that can be captured now (absent from some Stripe-compatible servers).
    public var amountCapturable: Int?
    /// The amount captured so far (absent from some Stripe-compatible servers).
    public var amountReceived: Int?
    /// ISO 4217 code, lower case.
    public var currency: String
    /// The secret the browser needs to confirm the payment with Stripe.js.
    /// Give it only to the client that pays; never log it.
    public var clientSecret: String
    /// The metadata set at creation.
    public var metadata: [String: String]
    /// When the money is taken.
    public var captureMethod: CaptureMethod
    /// Why the last payment attempt failed, if it did.
    public var lastPaymentError: PaymentError?

    public init(
        id: String,
        status: Status,
        amount: Int,
        amountCapturable: Int? = nil,
        amountReceived: Int? = nil,
        currency: String,
        clientSecret: String,
        metadata: [String: String] = [:],
        captureMethod: CaptureMethod = .manual,
        lastPaymentError: PaymentError? = nil
    ) {
        self.id = id
        self.status = status
        self.amount = amount
        self.amountCapturable = amountCapturable
        self.amountReceived = amountReceived
        self.currency = currency
        self.clientSecret = clientSecret
        self.metadata = metadata
        self.captureMethod = captureMethod
        self.lastPaymentError = lastPaymentError
    }
}

extension PaymentIntent: CustomStringConvertible {
    /// Names the intent without its client secret, so it can be logged.
    public var description: String {
        "PaymentIntent(\(id), \(status), \(amount) \(currency), capture: \(captureMethod))"
    }
}
