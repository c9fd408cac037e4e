import XCTest
@testable import PortalStripe

/// How answers become ``StripeError``s and when the client tries again; no network.
final class StripeErrorMappingTests: XCTestCase {
    private let scrubber = SecretScrubber(secret: StripeSecretKey("sk_test_mapping_secret_123"))

    private func response(_ status: Int, _ body: String, shouldRetry: Bool? = nil, retryAfter: Int? = nil) -> HTTPResponse {
        HTTPResponse(status: status, body: Array(body.utf8), requestID: "req_1", retryAfterSeconds: retryAfter, stripeShouldRetry: shouldRetry)
    }

    private func mapped(_ status: Int, _ body: String) -> StripeError {
        StripeClient.error(for: response(status, body), attempts: 1, scrubber: scrubber)
    }

    func testCardErrorKeepsCodesAndMessage() {
        let error = mapped(402, #"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","param":"payment_method"}}"#)
        guard case .cardError(let d) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(d.httpStatus, 402)
        XCTAssertEqual(d.code, "card_declined")
        XCTAssertEqual(d.declineCode, "insufficient_funds")
        XCTAssertEqual(d.message, "Your card has insufficient funds.")
        XCTAssertEqual(d.param, "payment_method")
        XCTAssertEqual(d.requestID, "req_1")
        XCTAssertFalse(error.isTransient)
    }

    func testStatusDecidesWhereTypeIsMisleading() {
        // localstripe sends `invalid_request_error` with 401 and 402.
        guard case .cardError = mapped(402, #"{"error":{"type":"invalid_request_error","code":"card_declined"}}"#) else { return XCTFail() }
        guard case .authentication = mapped(401, #"{"error":{"type":"invalid_request_error","message":"Unauthorized"}}"#) else { return XCTFail() }
        guard case .authentication = mapped(403, #"{"error":{"type":"permission_error"}}"#) else { return XCTFail() }
        // Stripe's rate limits are `invalid_request_error` with code `rate_limit`.
        guard case .rateLimited = mapped(429, #"{"error":{"type":"invalid_request_error","code":"rate_limit"}}"#) else { return XCTFail() }
    }

    func testTypesMapToTheirCases() {
        guard case .invalidRequest = mapped(404, #"{"error":{"type":"invalid_request_error","code":"resource_missing"}}"#) else { return XCTFail() }
        guard case .idempotencyError(let d) = mapped(400, #"{"error":{"type":"idempotency_error"}}"#) else { return XCTFail() }
        XCTAssertFalse(StripeError.idempotencyError(d).isTransient)
        guard case .idempotencyError(let conflict) = mapped(409, #"{"error":{"type":"idempotency_error"}}"#) else { return XCTFail() }
        XCTAssertTrue(StripeError.idempotencyError(conflict).isTransient)
        guard case .apiError = mapped(500, #"{"error":{"type":"api_error"}}"#) else { return XCTFail() }
    }

    func testBodiesThatAreNotStripeErrorsMapByStatus() {
        guard case .apiError(let d) = mapped(502, "<html>Bad gateway</html>") else { return XCTFail() }
        XCTAssertNil(d.message)
        guard case .invalidRequest = mapped(400, "") else { return XCTFail() }
        guard case .unexpectedResponse = mapped(302, "") else { return XCTFail() }
    }

    func testRetryVerdicts() {
        XCTAssertEqual(StripeClient.judge(.response(response(200, "{}"))), .success(response(200, "{}")))
        for status in [409, 429, 500, 502, 503] {
            XCTAssertEqual(StripeClient.judge(.response(response(status, ""))), .retry(retryAfterSeconds: nil), "\(status)")
        }
        for status in [400, 401, 402, 403, 404] {
            XCTAssertEqual(StripeClient.judge(.response(response(status, ""))), .fail, "\(status)")
        }
        XCTAssertEqual(StripeClient.judge(.response(response(429, "", retryAfter: 2))), .retry(retryAfterSeconds: 2))
        // Stripe-Should-Retry wins over the status.
        XCTAssertEqual(StripeClient.judge(.response(response(500, "", shouldRetry: false))), .fail)
        XCTAssertEqual(StripeClient.judge(.response(response(400, "", shouldRetry: true))), .retry(retryAfterSeconds: nil))
        // Transport: refused, timed out, broken → again; a bad URL → no.
        XCTAssertEqual(StripeClient.judge(.failure(CurlFailure(code: 7, message: ""))), .retry(retryAfterSeconds: nil))
        XCTAssertEqual(StripeClient.judge(.failure(CurlFailure(code: 28, message: ""))), .retry(retryAfterSeconds: nil))
        XCTAssertEqual(StripeClient.judge(.failure(CurlFailure(code: 56, message: ""))), .retry(retryAfterSeconds: nil))
        XCTAssertEqual(StripeClient.judge(.failure(CurlFailure(code: 3, message: ""))), .fail)
    }

    func testBackoffGrowsExponentiallyWithJitterAndCap() {
        let policy = StripeClient.RetryPolicy(maxAttempts: 6, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(500))
        XCTAssertEqual(policy.backoff(beforeRetry: 1, unitRandom: { 1 }), .milliseconds(100))
        XCTAssertEqual(policy.backoff(beforeRetry: 2, unitRandom: { 1 }), .milliseconds(200))
        XCTAssertEqual(policy.backoff(beforeRetry: 3, unitRandom: { 1 }), .milliseconds(400))
        XCTAssertEqual(policy.backoff(beforeRetry: 4, unitRandom: { 1 }), .milliseconds(500))
        XCTAssertEqual(policy.backoff(beforeRetry: 2, unitRandom: { 0 }), .milliseconds(100))
        for _ in 0..<100 {
            let wait = policy.backoff(beforeRetry: 2)
            XCTAssertTrue(wait >= .milliseconds(100) && wait <= .milliseconds(200), "\(wait)")
        }
        // Retry-After lengthens the wait, but never past the cap.
        XCTAssertEqual(policy.backoff(beforeRetry: 1, retryAfterSeconds: 60, unitRandom: { 1 }), .milliseconds(500))
        XCTAssertEqual(StripeClient.RetryPolicy(maxAttempts: 0, initialBackoff: .zero, maxBackoff: .zero).maxAttempts, 1)
    }

    func testScrubberRemovesTheKeyAndKeyShapedTokens() {
        XCTAssertEqual(scrubber.scrub("Invalid API Key provided: sk_test_mapping_secret_123."), "Invalid API Key provided: [redacted].")
        XCTAssertEqual(scrubber.scrub("other sk_live_abcdEFGH1234 and rk_test_zzzz9999!"), "other [redacted] and [redacted]!")
        XCTAssertEqual(scrubber.scrub("task_id disk_usage sk_ok"), "task_id disk_usage sk_ok")
        let error = mapped(400, #"{"error":{"type":"invalid_request_error","message":"Unexpected sk_test_mapping_secret_123","param":"sk_test_mapping_secret_123"}}"#)
        XCTAssertFalse("\(error)".contains("sk_test_mapping_secret_123"))
        XCTAssertEqual(error.details?.message, "Unexpected [redacted]")
    }

    func testSecretKeyNeverPrints() {
        let key = StripeSecretKey("sk_test_never_printed_42")
        let configuration = StripeClient.Configuration.defaults
        let client = StripeClient(secretKey: key, configuration: configuration)
        var dumped = ""
        dump(client, to: &dumped)
        dump(key, to: &dumped)
        for text in ["\(key)", String(reflecting: key), dumped, "\(client)"] {
            XCTAssertFalse(text.contains("sk_test_never_printed_42"), text)
        }
    }

    func testPaymentIntentDescriptionOmitsClientSecret() {
        let intent = PaymentIntent(id: "pi_1", status: .requiresCapture, amount: 1, currency: "gbp", clientSecret: "pi_1_secret_x")
        XCTAssertFalse("\(intent)".contains("secret"))
        XCTAssertEqual(PaymentIntent.Status(rawValue: "requires_capture"), .requiresCapture)
        XCTAssertEqual(PaymentIntent.Status(rawValue: "brand_new"), .unknown("brand_new"))
        XCTAssertEqual(PaymentIntent.Status.unknown("brand_new").rawValue, "brand_new")
        XCTAssertEqual(PaymentIntent.CaptureMethod(rawValue: "automatic_async"), .automaticAsync)
    }
}
