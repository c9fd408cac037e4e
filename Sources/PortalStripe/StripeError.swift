/// A failed Stripe call.
///
/// Stripe's own answers are mapped from the HTTP status and the error JSON
/// (`{"error": {"type", "code", "decline_code", "message", "param"}}`);
/// transport failures are ``network(_:)``. No case ever holds the secret key:
/// messages that come back from the server are scrubbed of it and of anything
/// shaped like a Stripe secret key before they are stored.
public enum StripeError: Error, Sendable, Hashable {
    /// HTTP 402 or `card_error`: the card was declined or could not be charged.
    case cardError(StripeErrorDetails)
    /// HTTP 400/404 or `invalid_request_error`: the request was wrong for the
    /// object's state or named something that does not exist. Not retried.
    case invalidRequest(StripeErrorDetails)
    /// `idempotency_error`: the key was reused with different parameters, or
    /// (409) another request with the same key was still running after every retry.
    case idempotencyError(StripeErrorDetails)
    /// HTTP 5xx or `api_error`: Stripe failed, after every retry.
    case apiError(StripeErrorDetails)
    /// HTTP 429: too many requests, after every retry.
    case rateLimited(StripeErrorDetails)
    /// HTTP 401/403: the secret key is missing, wrong or not allowed to do this.
    case authentication(StripeErrorDetails)
    /// Stripe could not be reached or did not answer in time, after every retry.
    case network(NetworkFailure)
    /// Stripe answered with something this client cannot read.
    case unexpectedResponse(UnexpectedResponse)

    /// How many times the request was sent (1 when it was not retried, 0 when
    /// it was refused before sending).
    public var attempts: Int {
        switch self {
        case .cardError(let d), .invalidRequest(let d), .idempotencyError(let d),
             .apiError(let d), .rateLimited(let d), .authentication(let d):
            d.attempts
        case .network(let failure): failure.attempts
        case .unexpectedResponse(let response): response.attempts
        }
    }

    /// Stripe's error fields, for the cases where Stripe answered with an error.
    public var details: StripeErrorDetails? {
        switch self {
        case .cardError(let d), .invalidRequest(let d), .idempotencyError(let d),
             .apiError(let d), .rateLimited(let d), .authentication(let d):
            d
        case .network, .unexpectedResponse:
            nil
        }
    }

    /// True when trying the same call again later (with the same idempotency
    /// key) may succeed: outages, timeouts, rate limits, Stripe's own failures.
    /// False when the request itself must change.
    public var isTransient: Bool {
        switch self {
        case .network(let failure): failure.kind != .other
        case .rateLimited, .apiError: true
        case .idempotencyError(let d): d.httpStatus == 409
        case .cardError, .invalidRequest, .authentication, .unexpectedResponse: false
        }
    }
}

/// The fields of one of Stripe's error answers.
public struct StripeErrorDetails: Sendable, Hashable {
    /// The HTTP status, or `nil` when the request was refused before sending.
    public var httpStatus: Int?
    /// Stripe's `type` (`card_error`, `invalid_request_error`, …).
    public var type: String?
    /// Stripe's `code` (`card_declined`, `resource_missing`, …).
    public var code: String?
    /// Stripe's `decline_code` (`insufficient_funds`, …) for card errors.
    public var declineCode: String?
    /// Stripe's human-readable message, scrubbed of secret keys.
    public var message: String?
    /// The request parameter the error is about.
    public var param: String?
    /// Stripe's `Request-Id` header, for support requests.
    public var requestID: String?
    /// How many times the request was sent.
    public var attempts: Int

    public init(
        httpStatus: Int?,
        type: String? = nil,
        code: String? = nil,
        declineCode: String? = nil,
        message: String? = nil,
        param: String? = nil,
        requestID: String? = nil,
        attempts: Int
    ) {
        self.httpStatus = httpStatus
        self.type = type
        self.code = code
        self.declineCode = declineCode
        self.message = message
        self.param = param
        self.requestID = requestID
        self.attempts = attempts
    }
}

/// Stripe could not be reached or the exchange broke off.
public struct NetworkFailure: Sendable, Hashable {
    /// What went wrong, as far as retrying is concerned.
    public enum Kind: Sendable, Hashable {
        /// No connection could be made (refused, DNS, TLS handshake):
        /// the request was never delivered.
        case unreachable
        /// The connect or total timeout passed: the request may have been applied.
        case timeout
        /// The connection broke mid-exchange: the request may have been applied.
        case connectionLost
        /// Any other transport failure (bad URL, unsupported protocol,
        /// certificate refused, oversized response …): not retried.
        case other
    }

    /// What went wrong.
    public var kind: Kind
    /// libcurl's `CURLcode` of the last attempt.
    public var curlCode: Int
    /// libcurl's text for `curlCode` (never contains the URL or headers).
    public var curlMessage: String
    /// How many times the request was sent.
    public var attempts: Int

    public init(kind: Kind, curlCode: Int, curlMessage: String, attempts: Int) {
        self.kind = kind
        self.curlCode = curlCode
        self.curlMessage = curlMessage
        self.attempts = attempts
    }
}

/// Stripe answered, but not with what this client can read.
public struct UnexpectedResponse: Sendable, Hashable {
    /// The HTTP status.
    public var httpStatus: Int
    /// What was wrong with it (never the body itself).
    public var reason: String
    /// Stripe's `Request-Id` header, if any.
    public var requestID: String?
    /// How many times the request was sent.
    public var attempts: Int

    public init(httpStatus: Int, reason: String, requestID: String? = nil, attempts: Int) {
        self.httpStatus = httpStatus
        self.reason = reason
        self.requestID = requestID
        self.attempts = attempts
    }
}

extension StripeError: CustomStringConvertible {
    /// One line for logs: the kind, the HTTP status, Stripe's codes and
    /// message, the request id and the attempts. Never the secret key, the
    /// idempotency key or a request body.
    public var description: String {
        switch self {
        case .cardError(let d): "Stripe card error" + d.summary
        case .invalidRequest(let d): "Stripe invalid request" + d.summary
        case .idempotencyError(let d): "Stripe idempotency error" + d.summary
        case .apiError(let d): "Stripe API error" + d.summary
        case .rateLimited(let d): "Stripe rate limit" + d.summary
        case .authentication(let d): "Stripe authentication error" + d.summary
        case .network(let f):
            "Stripe unreachable (\(f.kind)): curl \(f.curlCode) \(f.curlMessage)" + attemptsSuffix(f.attempts)
        case .unexpectedResponse(let r):
            "Stripe unexpected response (HTTP \(r.httpStatus)): \(r.reason)"
                + (r.requestID.map { ", request \($0)" } ?? "") + attemptsSuffix(r.attempts)
        }
    }
}

private func attemptsSuffix(_ attempts: Int) -> String {
    attempts > 1 ? " after \(attempts) attempts" : ""
}

extension StripeErrorDetails {
    fileprivate var summary: String {
        var facts: [String] = []
        if let httpStatus { facts.append("HTTP \(httpStatus)") }
        if let code { facts.append("code \(code)") }
        if let declineCode { facts.append("decline_code \(declineCode)") }
        if let param { facts.append("param \(param)") }
        if let requestID { facts.append("request \(requestID)") }
        if attempts > 1 { facts.append("\(attempts) attempts") }
        var text = facts.isEmpty ? "" : " (" + facts.joined(separator: ", ") + ")"
        if let message { text += ": " + message }
        return text
    }
}
