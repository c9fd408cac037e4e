import LocalStripeHarness
import Logging
import PortalStripe
import XCTest

/// The client against a real Stripe peer: `localstripe`, started once for the
/// test process and emptied before each test.
final class StripeClientLocalStripeTests: XCTestCase {
    private var stripe: LocalStripe!
    private var client: StripeClient!

    override func setUp() async throws {
        stripe = try LocalStripe.sharedOrSkip()
        try await stripe.reset()
        client = stripe.makeClient()
    }

    private func createIntent(
        amountCents: Int = 2500, metadata: [String: String] = ["hold_token": "hold-1"], key: String = UUID().uuidString
    ) async throws -> PaymentIntent {
        try await client.createPaymentIntent(amountCents: amountCents, currency: "gbp", metadata: metadata, idempotencyKey: key)
    }

    func testAuthoriseThenCaptureRoundTripsAmountCurrencyAndMetadata() async throws {
        let metadata = [
            "hold_token": "tok a&b=c d+e%f",
            "client": "Zoë & Björn 🐕",
            "note": "[brackets] in a value; ?#/",
        ]
        let created = try await createIntent(amountCents: 4250, metadata: metadata, key: "create-\(UUID())")
        XCTAssertEqual(created.status, .requiresPaymentMethod)
        XCTAssertEqual(created.captureMethod, .manual)
        XCTAssertEqual(created.amount, 4250)
        XCTAssertEqual(created.currency, "gbp")
        XCTAssertEqual(created.metadata, metadata)
        XCTAssertTrue(created.clientSecret.hasPrefix(created.id + "_secret_"))

        let paid = try await stripe.payAsBrowser(paymentIntentID: created.id)
        XCTAssertEqual(paid.status, .requiresCapture)

        let retrieved = try await client.retrievePaymentIntent(id: created.id)
        XCTAssertEqual(retrieved.status, .requiresCapture)
        XCTAssertEqual(retrieved.amount, 4250)
        XCTAssertEqual(retrieved.currency, "gbp")
        XCTAssertEqual(retrieved.metadata, metadata)
        XCTAssertEqual(retrieved.captureMethod, .manual)

        let captured = try await client.capturePaymentIntent(id: created.id, idempotencyKey: "capture-\(created.id)")
        XCTAssertEqual(captured.status, .succeeded)
        let after = try await client.retrievePaymentIntent(id: created.id)
        XCTAssertEqual(after.status, .succeeded)
        XCTAssertNil(after.lastPaymentError)
    }

    /// Listing pages through `starting_after` (100 a page) and stops at
    /// `limit`, or at PaymentIntents older than asked for.
    func testListingPagesThroughEveryRecentIntent() async throws {
        let started = Int64(Date().timeIntervalSince1970) - 1
        var created: Set<String> = []
        for index in 0..<105 {
            created.insert(try await createIntent(metadata: ["n": String(index)]).id)
        }
        let listed = try await client.paymentIntents(createdSince: started, limit: 1_000)
        XCTAssertEqual(Set(listed.map(\.id)), created)
        XCTAssertEqual(listed.count, 105, "no PaymentIntent twice")
        XCTAssertEqual(Set(listed.compactMap { $0.metadata["n"] }).count, 105)
        let few = try await client.paymentIntents(createdSince: started, limit: 3)
        XCTAssertEqual(few.count, 3)
        XCTAssertTrue(Set(few.map(\.id)).isSubset(of: created))
        let future = try await client.paymentIntents(createdSince: started + 3_600, limit: 1_000)
        XCTAssertEqual(future, [])
    }

    func testCancellingAnAuthorisedIntentReleasesIt() async throws {
        let intent = try await createIntent()
        try await stripe.payAsBrowser(paymentIntentID: intent.id)
        let canceled = try await client.cancelPaymentIntent(id: intent.id, idempotencyKey: "cancel-\(intent.id)")
        XCTAssertEqual(canceled.status, .canceled)
        let retrieved = try await client.retrievePaymentIntent(id: intent.id)
        XCTAssertEqual(retrieved.status, .canceled)
    }

    func testCancellingAnUnpaidIntent() async throws {
        let intent = try await createIntent()
        let canceled = try await client.cancelPaymentIntent(id: intent.id, idempotencyKey: "cancel-\(intent.id)")
        XCTAssertEqual(canceled.status, .canceled)
    }

    func testDeclinedCardIsATypedCardErrorAndLeavesTheIntentUnpaid() async throws {
        let intent = try await createIntent()
        do {
            try await stripe.payAsBrowser(paymentIntentID: intent.id, card: .declinedOnCharge)
            XCTFail("a declined card must not confirm")
        } catch StripeError.cardError(let details) {
            XCTAssertEqual(details.httpStatus, 402)
            XCTAssertEqual(details.code, "card_declined")
            XCTAssertEqual(details.message, "Your card was declined.")
            XCTAssertEqual(details.attempts, 1, "a decline is final, never retried")
        }
        let retrieved = try await client.retrievePaymentIntent(id: intent.id)
        XCTAssertEqual(retrieved.status, .requiresPaymentMethod)
        XCTAssertEqual(retrieved.lastPaymentError?.code, "card_declined")
        // Nothing to capture: the attempt is refused, and the intent can still be cancelled.
        let canceled = try await client.cancelPaymentIntent(id: intent.id, idempotencyKey: "cancel-\(intent.id)")
        XCTAssertEqual(canceled.status, .canceled)
    }

    func testThreeDSecureNeedsAuthenticationBeforeCapture() async throws {
        let intent = try await createIntent()
        let challenged = try await stripe.payAsBrowser(paymentIntentID: intent.id, card: .threeDSecure)
        XCTAssertEqual(challenged.status, .requiresAction)
        let challengedStatus = try await client.retrievePaymentIntent(id: intent.id).status
        XCTAssertEqual(challengedStatus, .requiresAction)

        try await stripe.authenticate(paymentIntent: intent.id, clientSecret: intent.clientSecret, success: true)
        let authenticatedStatus = try await client.retrievePaymentIntent(id: intent.id).status
        XCTAssertEqual(authenticatedStatus, .requiresCapture)
        let captured = try await client.capturePaymentIntent(id: intent.id, idempotencyKey: "capture-\(intent.id)")
        XCTAssertEqual(captured.status, .succeeded)
    }

    func testFailedThreeDSecureLeavesTheIntentWithoutPaymentMethod() async throws {
        let intent = try await createIntent()
        try await stripe.payAsBrowser(paymentIntentID: intent.id, card: .threeDSecure)
        try await stripe.authenticate(paymentIntent: intent.id, clientSecret: intent.clientSecret, success: false)
        let retrieved = try await client.retrievePaymentIntent(id: intent.id)
        XCTAssertEqual(retrieved.status, .requiresPaymentMethod)
        XCTAssertEqual(retrieved.lastPaymentError?.code, "payment_intent_authentication_failure")
        // The client may pay again with another card on the same intent.
        let repaidStatus = try await stripe.payAsBrowser(paymentIntentID: intent.id).status
        XCTAssertEqual(repaidStatus, .requiresCapture)
    }

    func testUnknownIntentIsAnInvalidRequestWithStripesMessage() async throws {
        do {
            _ = try await client.retrievePaymentIntent(id: "pi_doesnotexist")
            XCTFail("expected an error")
        } catch StripeError.invalidRequest(let details) {
            XCTAssertEqual(details.httpStatus, 404)
            XCTAssertEqual(details.type, "invalid_request_error")
            XCTAssertEqual(details.message, "Not Found")
            XCTAssertEqual(details.attempts, 1)
        }
    }

    func testCapturingTwiceIsAnInvalidRequest() async throws {
        let intent = try await createIntent()
        try await stripe.payAsBrowser(paymentIntentID: intent.id)
        _ = try await client.capturePaymentIntent(id: intent.id, idempotencyKey: "capture-1-\(intent.id)")
        do {
            // A new key: a real second capture, which Stripe refuses.
            _ = try await client.capturePaymentIntent(id: intent.id, idempotencyKey: "capture-2-\(intent.id)")
            XCTFail("expected an error")
        } catch StripeError.invalidRequest(let details) {
            XCTAssertEqual(details.httpStatus, 400)
            XCTAssertEqual(details.message, "Bad request")
        }
    }

    func testCapturingAnUnconfirmedIntentFails() async throws {
        // Stripe answers 400 invalid_request_error; localstripe crashes with a
        // plain-text 500, which the client retries and then reports as apiError.
        let intent = try await createIntent()
        do {
            _ = try await client.capturePaymentIntent(id: intent.id, idempotencyKey: "capture-\(intent.id)")
            XCTFail("expected an error")
        } catch let error as StripeError {
            switch error {
            case .invalidRequest(let details):
                XCTAssertEqual(details.httpStatus, 400)
            case .apiError(let details):
                XCTAssertEqual(details.httpStatus, 500)
                XCTAssertEqual(details.attempts, stripe.clientConfiguration.retry.maxAttempts)
            default:
                XCTFail("\(error)")
            }
        }
        let statusAfterFailure = try await client.retrievePaymentIntent(id: intent.id).status
        XCTAssertEqual(statusAfterFailure, .requiresPaymentMethod)
    }

    func testIdsThatCouldLeaveThePaymentIntentsPathAreRefusedBeforeSending() async throws {
        for id in ["../customers", "pi_1/capture", "pi 1", ""] {
            do {
                _ = try await client.retrievePaymentIntent(id: id)
                XCTFail("expected \(id) to be refused")
            } catch StripeError.invalidRequest(let details) {
                XCTAssertNil(details.httpStatus)
                XCTAssertEqual(details.attempts, 0)
            }
        }
    }

    func testWrongKeyIsAnAuthenticationError() async throws {
        // localstripe accepts any `sk_…` key and refuses anything else.
        let wrong = stripe.makeClient(secretKey: StripeSecretKey("rk_test_wrongkind_0123456789"))
        do {
            _ = try await wrong.retrievePaymentIntent(id: "pi_anything")
            XCTFail("expected an error")
        } catch StripeError.authentication(let details) {
            XCTAssertEqual(details.httpStatus, 401)
            XCTAssertEqual(details.attempts, 1)
        }
    }

    func testConcurrentCallsAllComplete() async throws {
        let client: StripeClient = client
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<12 {
                group.addTask {
                    try await client.createPaymentIntent(
                        amountCents: 100 + index, currency: "gbp", metadata: ["n": "\(index)"], idempotencyKey: "k\(index)"
                    ).id
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        XCTAssertEqual(ids.count, 12)
    }

    func testTheSecretKeyNeverAppearsInErrorsOrLogs() async throws {
        let recorder = LogRecorder()
        let secret = LocalStripe.secretKeyValue
        let logged = stripe.makeClient(logger: recorder.logger)
        var descriptions: [String] = []
        func record(_ body: () async throws -> Void) async {
            do {
                try await body()
                XCTFail("expected an error")
            } catch {
                descriptions.append("\(error)")
                descriptions.append(String(reflecting: error))
            }
        }

        // localstripe echoes unknown parameter names in its message: make it echo the key.
        let intent = try await createIntent()
        var echo = StripeForm()
        echo.append(secret, "1")
        await record { _ = try await logged.send(.post, path: "/v1/payment_intents/\(intent.id)/confirm", form: echo, idempotencyKey: "echo") }
        await record { _ = try await logged.retrievePaymentIntent(id: "pi_unknown") }
        await record { _ = try await logged.capturePaymentIntent(id: intent.id, idempotencyKey: "c1") }
        let refusing = try RefusingPort()
        var unreachable = stripe.clientConfiguration
        unreachable.baseURL = "http://127.0.0.1:\(refusing.port)"
        let offline = StripeClient(secretKey: LocalStripe.secretKey, configuration: unreachable, logger: recorder.logger)
        await record { _ = try await offline.createPaymentIntent(amountCents: 1, currency: "gbp", metadata: [:], idempotencyKey: "k") }

        XCTAssertTrue(descriptions.contains { $0.contains("Unexpected [redacted]") }, "the echo was scrubbed: \(descriptions)")
        let logs = recorder.text
        XCTAssertFalse(logs.isEmpty)
        XCTAssertTrue(logs.contains("stripe.path=/v1/payment_intents"))
        for text in descriptions + [logs] {
            XCTAssertFalse(text.contains(secret), text)
            XCTAssertFalse(text.contains("sk_test_"), text)
            XCTAssertFalse(text.contains("Bearer"), text)
        }
        // Nor does the client secret or the body travel into logs.
        XCTAssertFalse(logs.contains("_secret_"))
        XCTAssertFalse(logs.contains("hold_token"))
    }
}
