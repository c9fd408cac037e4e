import Logging
@testable import PortalStripe
import XCTest

/// Retries, headers, timeouts and connection reuse, on a scripted HTTP server
/// or no server at all.
final class StripeClientTransportTests: XCTestCase {
    private let quiet = Logger(label: "test.quiet") { _ in SwiftLogNoOpLogHandler() }

    private static let intentJSON = #"""
        {"id":"pi_123","object":"payment_intent","status":"requires_capture","amount":2500,
         "amount_capturable":2500,"amount_received":0,"currency":"gbp","client_secret":"pi_123_secret_abc",
         "metadata":{"hold_token":"h1"},"capture_method":"manual","last_payment_error":null}
        """#

    private func configuration(baseURL: String, attempts: Int) -> StripeClient.Configuration {
        StripeClient.Configuration(
            baseURL: baseURL,
            connectTimeout: .milliseconds(500),
            requestTimeout: .milliseconds(500),
            retry: .init(maxAttempts: attempts, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(40)),
            maxConcurrentRequests: 1)
    }

    func testUnreachableStripeFailsAfterExactlyTheConfiguredAttempts() async throws {
        let refusing = try RefusingPort()
        let recorder = LogRecorder()
        let client = StripeClient(
            secretKey: StripeSecretKey("sk_test_unreachable_1234"),
            configuration: configuration(baseURL: "http://127.0.0.1:\(refusing.port)", attempts: 4),
            logger: recorder.logger)
        do {
            _ = try await client.createPaymentIntent(amountCents: 100, currency: "gbp", metadata: [:], idempotencyKey: "k")
            XCTFail("expected an error")
        } catch StripeError.network(let failure) {
            XCTAssertEqual(failure.kind, .unreachable)
            XCTAssertEqual(failure.curlCode, 7)  // CURLE_COULDNT_CONNECT
            XCTAssertEqual(failure.attempts, 4)
            XCTAssertTrue(StripeError.network(failure).isTransient)
        }
        XCTAssertEqual(recorder.lines(containing: "retrying").count, 3)
        XCTAssertEqual(recorder.lines(containing: "stripe.attempt=").count, 4)
    }

    func testSilentServerTimesOut() async throws {
        let silent = try SilentListener()
        let client = StripeClient(
            secretKey: StripeSecretKey("sk_test_timeout_1234"),
            configuration: configuration(baseURL: "http://127.0.0.1:\(silent.port)", attempts: 2), logger: quiet)
        let started = ContinuousClock.now
        do {
            _ = try await client.retrievePaymentIntent(id: "pi_1")
            XCTFail("expected an error")
        } catch StripeError.network(let failure) {
            XCTAssertEqual(failure.kind, .timeout)
            XCTAssertEqual(failure.curlCode, 28)  // CURLE_OPERATION_TIMEDOUT
            XCTAssertEqual(failure.attempts, 2)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
    }

    func testServerErrorsAreRetriedWithTheSameIdempotencyKeyAndConnection() async throws {
        let server = try ScriptedHTTPServer(script: [
            .init(status: 500, body: #"{"error":{"type":"api_error","message":"boom"}}"#),
            .init(status: 409, body: #"{"error":{"type":"idempotency_error","message":"in progress"}}"#),
            .init(status: 200, headers: ["Request-Id": "req_ok"], body: Self.intentJSON),
        ])
        defer { server.stop() }
        let recorder = LogRecorder()
        let client = StripeClient(
            secretKey: StripeSecretKey("sk_test_scripted_5678"),
            configuration: configuration(baseURL: server.baseURL, attempts: 3),
            logger: recorder.logger)

        let intent = try await client.createPaymentIntent(
            amountCents: 2500, currency: "gbp", metadata: ["hold_token": "h 1&2"], idempotencyKey: "hold-h1-create")
        XCTAssertEqual(intent.id, "pi_123")
        XCTAssertEqual(intent.status, .requiresCapture)
        XCTAssertEqual(intent.amountCapturable, 2500)
        XCTAssertEqual(intent.amountReceived, 0)
        XCTAssertEqual(intent.metadata, ["hold_token": "h1"])

        let requests = server.requests
        XCTAssertEqual(requests.count, 3)
        for request in requests {
            XCTAssertEqual(request.method, "POST")
            XCTAssertEqual(request.path, "/v1/payment_intents")
            XCTAssertEqual(request.headers["idempotency-key"], "hold-h1-create")
            XCTAssertEqual(request.headers["authorization"], "Bearer sk_test_scripted_5678")
            XCTAssertEqual(request.headers["stripe-version"], StripeClient.Configuration.pinnedAPIVersion)
            XCTAssertEqual(request.headers["content-type"], "application/x-www-form-urlencoded")
            XCTAssertEqual(
                request.body,
                "amount=2500&currency=gbp&capture_method=manual&payment_method_types[]=card&metadata[hold_token]=h+1%262")
        }
        XCTAssertEqual(server.connectionCount, 1, "one kept-alive connection for every attempt")
        XCTAssertEqual(recorder.lines(containing: "stripe.request_id=req_ok").count, 1)
    }

    func testStripeShouldRetryFalseStopsRetries() async throws {
        let server = try ScriptedHTTPServer(script: [
            .init(status: 503, headers: ["Stripe-Should-Retry": "false"], body: #"{"error":{"type":"api_error"}}"#),
        ])
        defer { server.stop() }
        let client = StripeClient(secretKey: StripeSecretKey("sk_test_x_1234"), configuration: configuration(baseURL: server.baseURL, attempts: 3), logger: quiet)
        do {
            _ = try await client.capturePaymentIntent(id: "pi_1", idempotencyKey: "cap")
            XCTFail("expected an error")
        } catch StripeError.apiError(let details) {
            XCTAssertEqual(details.httpStatus, 503)
            XCTAssertEqual(details.attempts, 1)
        }
        XCTAssertEqual(server.requests.count, 1)
    }

    func testRateLimitIsRetriedThenReported() async throws {
        let server = try ScriptedHTTPServer(script: [
            .init(status: 429, body: #"{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}"#),
            .init(status: 429, body: #"{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}"#),
        ])
        defer { server.stop() }
        let client = StripeClient(secretKey: StripeSecretKey("sk_test_x_1234"), configuration: configuration(baseURL: server.baseURL, attempts: 2), logger: quiet)
        do {
            _ = try await client.cancelPaymentIntent(id: "pi_1", idempotencyKey: "cancel")
            XCTFail("expected an error")
        } catch StripeError.rateLimited(let details) {
            XCTAssertEqual(details.code, "rate_limit")
            XCTAssertEqual(details.attempts, 2)
        }
        XCTAssertEqual(server.requests.map(\.path), ["/v1/payment_intents/pi_1/cancel", "/v1/payment_intents/pi_1/cancel"])
        XCTAssertEqual(server.requests.map { $0.headers["idempotency-key"] }, ["cancel", "cancel"])
    }

    func testCardErrorsAreNotRetried() async throws {
        let server = try ScriptedHTTPServer(script: [
            .init(status: 402, body: #"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#),
        ])
        defer { server.stop() }
        let client = StripeClient(secretKey: StripeSecretKey("sk_test_x_1234"), configuration: configuration(baseURL: server.baseURL, attempts: 3), logger: quiet)
        do {
            _ = try await client.capturePaymentIntent(id: "pi_1", idempotencyKey: "cap")
            XCTFail("expected an error")
        } catch StripeError.cardError(let details) {
            XCTAssertEqual(details.declineCode, "insufficient_funds")
        }
        XCTAssertEqual(server.requests.count, 1)
    }

    func testUnreadableSuccessIsAnUnexpectedResponse() async throws {
        let server = try ScriptedHTTPServer(script: [.init(status: 200, body: #"{"id":"pi_1"}"#)])
        defer { server.stop() }
        let client = StripeClient(secretKey: StripeSecretKey("sk_test_x_1234"), configuration: configuration(baseURL: server.baseURL, attempts: 3), logger: quiet)
        do {
            _ = try await client.retrievePaymentIntent(id: "pi_1")
            XCTFail("expected an error")
        } catch StripeError.unexpectedResponse(let response) {
            XCTAssertEqual(response.httpStatus, 200)
        }
        XCTAssertEqual(server.requests.first?.method, "GET")
        XCTAssertNil(server.requests.first?.headers["idempotency-key"])
    }

    func testBadIdempotencyKeysAreRefusedBeforeSending() async throws {
        let refusing = try RefusingPort()
        let client = StripeClient(
            secretKey: StripeSecretKey("sk_test_x_1234"),
            configuration: configuration(baseURL: "http://127.0.0.1:\(refusing.port)", attempts: 1), logger: quiet)
        for key in ["", "has space", "line\nbreak", String(repeating: "k", count: 256)] {
            do {
                _ = try await client.capturePaymentIntent(id: "pi_1", idempotencyKey: key)
                XCTFail("expected \(key.debugDescription) to be refused")
            } catch StripeError.invalidRequest(let details) {
                XCTAssertEqual(details.param, "idempotency_key")
                XCTAssertEqual(details.attempts, 0)
            }
        }
    }
}
