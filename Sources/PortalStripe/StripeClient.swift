import Foundation
import Logging
import PortalPayments

/// Stripe's PaymentIntents API over libcurl.
///
/// Every request carries `Authorization: Bearer <secret key>` and a pinned
/// `Stripe-Version`; every POST carries the caller's `Idempotency-Key`, the
/// same one on each retry. Transfers run on the client's own worker threads
/// (see ``Configuration/maxConcurrentRequests``), never on the caller's
/// thread, and reuse their connections. Logs name the method, the path, the
/// status, the latency, the attempt and Stripe's request id — never the key,
/// a body or a client secret.
///
/// ```swift
/// let stripe = StripeClient(
///     secretKey: StripeSecretKey(environment["PORTAL_STRIPE_API_KEY"]!),
///     configuration: .defaults,
///     logger: Logger(label: "portal.stripe"))
/// let intent = try await stripe.createPaymentIntent(
///     amountCents: 2500, currency: "gbp",
///     metadata: ["hold_token": token], idempotencyKey: "hold-\(token)-create")
/// ```
public final class StripeClient: PaymentGateway {
    /// The configuration in force.
    public let configuration: Configuration

    private let secretKey: StripeSecretKey
    private let scrubber: SecretScrubber
    private let baseURL: String
    private let logger: Logger
    private let workers: CurlWorkerPool

    /// A client with its own worker threads; they stop when the client is released.
    public init(
        secretKey: StripeSecretKey,
        configuration: Configuration = .defaults,
        logger: Logger = Logger(label: "portal.stripe")
    ) {
        self.configuration = configuration
        self.secretKey = secretKey
        self.scrubber = SecretScrubber(secret: secretKey)
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.logger = logger
        self.workers = CurlWorkerPool(threadCount: configuration.maxConcurrentRequests, name: "stripe-curl")
    }

    // MARK: PaymentGateway

    public func createPaymentIntent(
        amountCents: Int,
        currency: String,
        metadata: [String: String],
        idempotencyKey: String
    ) async throws -> PaymentIntent {
        if let badKey = metadata.keys.first(where: { $0.isEmpty || $0.contains("[") || $0.contains("]") }) {
            throw StripeError.invalidRequest(.refusedLocally(
                "metadata key '\(badKey)' is empty or contains a square bracket", param: "metadata"))
        }
        var form = StripeForm()
        form.append("amount", String(amountCents))
        form.append("currency", currency)
        form.append("capture_method", "manual")
        form.append("payment_method_types[]", "card")
        form.append("metadata", dictionary: metadata)
        let response = try await send(.post, path: "/v1/payment_intents", form: form, idempotencyKey: idempotencyKey)
        return try decodePaymentIntent(response)
    }

    public func retrievePaymentIntent(id: String) async throws -> PaymentIntent {
        let response = try await send(.get, path: "/v1/payment_intents/\(try Self.checkedID(id))")
        return try decodePaymentIntent(response)
    }

    public func capturePaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        let response = try await send(
            .post, path: "/v1/payment_intents/\(try Self.checkedID(id))/capture",
            form: StripeForm(), idempotencyKey: idempotencyKey)
        return try decodePaymentIntent(response)
    }

    public func cancelPaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        let response = try await send(
            .post, path: "/v1/payment_intents/\(try Self.checkedID(id))/cancel",
            form: StripeForm(), idempotencyKey: idempotencyKey)
        return try decodePaymentIntent(response)
    }

    /// `GET /v1/payment_intents`, newest first, 100 a page, until a page
    /// reaches one created before `since` or `limit` are found. (No
    /// `created[gte]` filter: Stripe lists newest first anyway, and
    /// localstripe refuses the parameter.)
    public func paymentIntents(createdSince since: Int64, limit: Int) async throws -> [PaymentIntent] {
        var found: [PaymentIntent] = []
        var after: String?
        while found.count < limit {
            var path = "/v1/payment_intents?limit=100"
            if let after { path += "&starting_after=\(try Self.checkedID(after))" }
            let page = try decode(PaymentIntentListPayload.self, from: try await send(.get, path: path))
            let recent = page.data.prefix { $0.created >= since }
            found += recent.compactMap(\.intent?.paymentIntent).prefix(limit - found.count)
            guard page.has_more, recent.count == page.data.count, let last = page.data.last else { break }
            after = last.id
        }
        return found
    }

    // MARK: Requests

    /// Sends one request, retrying as ``Configuration/retry`` says, and
    /// returns the 2xx response; any other outcome is thrown as a ``StripeError``.
    /// For the PaymentIntent calls above and for test harnesses that drive
    /// other endpoints of a Stripe-compatible server.
    package func send(
        _ method: HTTPMethod,
        path: String,
        form: StripeForm? = nil,
        idempotencyKey: String? = nil
    ) async throws -> HTTPResponse {
        guard secretKey.isValidHeaderValue else {
            throw StripeError.authentication(.refusedLocally(
                "the secret key is empty or holds characters a header cannot carry", param: nil))
        }
        var headers = [
            "Authorization: Bearer \(secretKey.value)",
            "Stripe-Version: \(configuration.apiVersion)",
            "Accept: application/json",
        ]
        if method == .post {
            guard let idempotencyKey else {
                throw StripeError.invalidRequest(.refusedLocally("every POST needs an idempotency key", param: "idempotency_key"))
            }
            guard (1...255).contains(idempotencyKey.utf8.count),
                  idempotencyKey.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                throw StripeError.invalidRequest(.refusedLocally(
                    "an idempotency key is 1 to 255 printable ASCII characters without spaces",
                    param: "idempotency_key"))
            }
            headers.append("Idempotency-Key: \(idempotencyKey)")
            headers.append("Content-Type: application/x-www-form-urlencoded")
            // No `Expect: 100-continue` round trip for larger bodies.
            headers.append("Expect:")
        }
        let request = CurlRequest(
            method: method,
            url: baseURL + path,
            headers: headers,
            body: method == .post ? (form ?? StripeForm()).encoded : nil,
            connectTimeoutMilliseconds: configuration.connectTimeout.clampedMilliseconds,
            totalTimeoutMilliseconds: configuration.requestTimeout.clampedMilliseconds,
            maxResponseBytes: configuration.maxResponseBytes,
            userAgent: configuration.userAgent
        )
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            let started = ContinuousClock.now
            let outcome = await workers.perform(request)
            let latency = ContinuousClock.now - started
            let verdict = Self.judge(outcome)
            var metadata: Logger.Metadata = [
                "stripe.method": "\(method.rawValue)",
                "stripe.path": "\(path)",
                "stripe.latency_ms": "\(latency.clampedMilliseconds)",
                "stripe.attempt": "\(attempt)",
            ]
            switch outcome {
            case .response(let response):
                metadata["http.status"] = "\(response.status)"
                if let requestID = response.requestID { metadata["stripe.request_id"] = "\(requestID)" }
            case .failure(let failure):
                metadata["curl.code"] = "\(failure.code)"
                metadata["curl.error"] = "\(failure.message)"
            }

            switch verdict {
            case .success(var response):
                logger.info("stripe request", metadata: metadata)
                response.attempt = attempt
                return response
            case .retry(let retryAfterSeconds) where attempt < policy.maxAttempts:
                let wait = policy.backoff(beforeRetry: attempt, retryAfterSeconds: retryAfterSeconds)
                metadata["stripe.retry_in_ms"] = "\(wait.clampedMilliseconds)"
                logger.warning("stripe request failed, retrying", metadata: metadata)
                try await Task.sleep(for: wait)
            case .retry, .fail:
                // A refusal (decline, bad request) is routine; an outage is not.
                var level = Logger.Level.warning
                if case .response(let response) = outcome, response.status < 500, response.status != 429 {
                    level = .notice
                }
                logger.log(level: level, "stripe request failed", metadata: metadata)
                throw makeError(outcome, attempts: attempt)
            }
        }
    }

    /// Decodes a 2xx body as `T`; a body that does not fit is an ``StripeError/unexpectedResponse(_:)``.
    package func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw StripeError.unexpectedResponse(UnexpectedResponse(
                httpStatus: response.status,
                reason: "the body is not the JSON object expected (\(T.self))",
                requestID: response.requestID,
                attempts: response.attempt))
        }
    }

    /// Decodes a PaymentIntent answer.
    package func decodePaymentIntent(_ response: HTTPResponse) throws -> PaymentIntent {
        try decode(PaymentIntentPayload.self, from: response).paymentIntent
    }

    // MARK: Outcomes

    enum Verdict: Equatable {
        case success(HTTPResponse)
        /// Worth another attempt; the server's `Retry-After`, if any.
        case retry(retryAfterSeconds: Int?)
        case fail

        static func == (lhs: Verdict, rhs: Verdict) -> Bool {
            switch (lhs, rhs) {
            case (.success(let a), .success(let b)): a.status == b.status
            case (.retry(let a), .retry(let b)): a == b
            case (.fail, .fail): true
            default: false
            }
        }
    }

    /// Whether an outcome is final, and if it is not, whether to try again.
    static func judge(_ outcome: CurlOutcome) -> Verdict {
        switch outcome {
        case .failure(let failure):
            return failure.kind == .other ? .fail : .retry(retryAfterSeconds: nil)
        case .response(let response):
            if (200..<300).contains(response.status) { return .success(response) }
            if let advice = response.stripeShouldRetry {
                return advice ? .retry(retryAfterSeconds: response.retryAfterSeconds) : .fail
            }
            switch response.status {
            case 409, 429, 500...599: return .retry(retryAfterSeconds: response.retryAfterSeconds)
            default: return .fail
            }
        }
    }

    /// The typed error for a final failure.
    func makeError(_ outcome: CurlOutcome, attempts: Int) -> StripeError {
        switch outcome {
        case .failure(let failure):
            return .network(NetworkFailure(
                kind: failure.responseTooLarge ? .other : failure.kind,
                curlCode: failure.code,
                curlMessage: failure.responseTooLarge ? "response larger than maxResponseBytes" : failure.message,
                attempts: attempts))
        case .response(let response):
            return Self.error(for: response, attempts: attempts, scrubber: scrubber)
        }
    }

    /// Maps an HTTP error answer: first by the statuses whose meaning does not
    /// depend on the body (401/403, 402, 429), then by Stripe's error `type`,
    /// then by the status class.
    static func error(for response: HTTPResponse, attempts: Int, scrubber: SecretScrubber) -> StripeError {
        let body = try? JSONDecoder().decode(StripeErrorPayload.self, from: Data(response.body)).error
        guard body != nil || response.status >= 400 else {
            return .unexpectedResponse(UnexpectedResponse(
                httpStatus: response.status, reason: "not a success and not a Stripe error",
                requestID: response.requestID, attempts: attempts))
        }
        let details = StripeErrorDetails(
            httpStatus: response.status,
            type: body?.type.map(scrubber.scrub),
            code: body?.code.map(scrubber.scrub),
            declineCode: body?.decline_code.map(scrubber.scrub),
            message: body?.message.map(scrubber.scrub),
            param: body?.param.map(scrubber.scrub),
            requestID: response.requestID,
            attempts: attempts)
        switch (response.status, body?.type) {
        case (401, _), (403, _), (_, "authentication_error"), (_, "permission_error"):
            return .authentication(details)
        case (402, _), (_, "card_error"):
            return .cardError(details)
        case (429, _), (_, "rate_limit_error"):
            return .rateLimited(details)
        case (_, "idempotency_error"):
            return .idempotencyError(details)
        case (_, "api_error"), (500...599, _):
            return .apiError(details)
        case (_, "invalid_request_error"), (400...499, _):
            return .invalidRequest(details)
        default:
            return .unexpectedResponse(UnexpectedResponse(
                httpStatus: response.status, reason: "an error of an unknown kind",
                requestID: response.requestID, attempts: attempts))
        }
    }

    /// A PaymentIntent id as it may appear in a path: `pi_` and letters,
    /// digits, underscores — anything else could walk to another endpoint.
    static func checkedID(_ id: String) throws -> String {
        guard (1...255).contains(id.utf8.count),
              id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F })
        else {
            throw StripeError.invalidRequest(.refusedLocally("not a valid Stripe object id", param: "id"))
        }
        return id
    }
}

extension StripeErrorDetails {
    /// A request this client refused to send.
    static func refusedLocally(_ message: String, param: String?) -> StripeErrorDetails {
        StripeErrorDetails(httpStatus: nil, type: "invalid_request_error", message: message, param: param, attempts: 0)
    }
}
