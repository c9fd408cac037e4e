import Logging
import PortalPayments
import XCTest

/// The simulated gateway: what it answers, and that it keeps only the last
/// finished PaymentIntents, so a long benchmark does not grow the server.
final class SimulatedPaymentGatewayTests: XCTestCase {
    private func gateway(finishedIntentLimit: Int = SimulatedPaymentGateway.defaultFinishedIntentLimit)
        -> SimulatedPaymentGateway
    {
        SimulatedPaymentGateway(
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            finishedIntentLimit: finishedIntentLimit)
    }

    private func create(_ gateway: SimulatedPaymentGateway, key: String) async throws -> PaymentIntent {
        try await gateway.createPaymentIntent(
            amountCents: 1500, currency: "gbp", metadata: ["portal_hold_token": key], idempotencyKey: key)
    }

    private func assertNotFound(
        _ call: () async throws -> PaymentIntent, file: StaticString = #filePath, line: UInt = #line
    ) async {
        do {
            let intent = try await call()
            XCTFail("expected notFound, got \(intent)", file: file, line: line)
        } catch {
            XCTAssertEqual(PaymentFailureKind(classifying: error), .notFound, file: file, line: line)
        }
    }

    func testACreatedIntentIsAuthorisedAndReadBackUnchanged() async throws {
        let gateway = gateway()
        let created = try await create(gateway, key: "k1")
        XCTAssertTrue(created.id.hasPrefix("pi_sim_"))
        XCTAssertTrue(created.clientSecret.hasPrefix(created.id + "_secret_"))
        XCTAssertEqual(created.status, .requiresCapture)
        XCTAssertEqual(created.amountCapturable, 1500)
        XCTAssertEqual(created.amountReceived, 0)
        XCTAssertEqual(created.captureMethod, .manual)
        XCTAssertEqual(created.metadata, ["portal_hold_token": "k1"])
        let read = try await gateway.retrievePaymentIntent(id: created.id)
        XCTAssertEqual(read, created)
    }

    func testTheSameCreationKeyReturnsTheSameIntent() async throws {
        let gateway = gateway()
        let first = try await create(gateway, key: "k1")
        let again = try await create(gateway, key: "k1")
        XCTAssertEqual(again, first)
        let other = try await create(gateway, key: "k2")
        XCTAssertNotEqual(other.id, first.id)
        XCTAssertEqual(gateway.storedIntentCount, 2)
    }

    func testIdsSortByCreationAndDifferAcrossGateways() async throws {
        // Byte-wise, as SQLite's unique index on payment_intent_id compares them.
        let first = gateway()
        var previous = try await create(first, key: "k0").id
        for index in 1..<500 {
            let id = try await create(first, key: "k\(index)").id
            XCTAssertTrue(previous.utf8.lexicographicallyPrecedes(id.utf8), "\(previous) then \(id)")
            previous = id
        }
        // A new process (a restarted portald on the same database, a
        // millisecond or more later) never issues an id the last one did.
        try await Task.sleep(for: .milliseconds(2))
        let second = gateway()
        let next = try await create(second, key: "k0").id
        XCTAssertTrue(previous.utf8.lexicographicallyPrecedes(next.utf8), "\(previous) then \(next)")
        await assertNotFound { try await second.retrievePaymentIntent(id: previous) }
    }

    func testCaptureAndCancelAreIdempotentAndFinal() async throws {
        let gateway = gateway()
        let captured = try await create(gateway, key: "k1")
        let afterCapture = try await gateway.capturePaymentIntent(id: captured.id, idempotencyKey: "c1")
        XCTAssertEqual(afterCapture.status, .succeeded)
        XCTAssertEqual(afterCapture.amountReceived, 1500)
        XCTAssertEqual(afterCapture.amountCapturable, 0)
        let capturedAgain = try await gateway.capturePaymentIntent(id: captured.id, idempotencyKey: "c2")
        XCTAssertEqual(capturedAgain, afterCapture)
        do {
            _ = try await gateway.cancelPaymentIntent(id: captured.id, idempotencyKey: "x")
            XCTFail("a captured PaymentIntent was cancelled")
        } catch {
            XCTAssertEqual(PaymentFailureKind(classifying: error), .refused)
        }

        let canceled = try await create(gateway, key: "k2")
        let afterCancel = try await gateway.cancelPaymentIntent(id: canceled.id, idempotencyKey: "x1")
        XCTAssertEqual(afterCancel.status, .canceled)
        let canceledAgain = try await gateway.cancelPaymentIntent(id: canceled.id, idempotencyKey: "x2")
        XCTAssertEqual(canceledAgain, afterCancel)
        do {
            _ = try await gateway.capturePaymentIntent(id: canceled.id, idempotencyKey: "c")
            XCTFail("a cancelled PaymentIntent was captured")
        } catch {
            XCTAssertEqual(PaymentFailureKind(classifying: error), .refused)
        }
    }

    func testAnIDItNeverIssuedIsNotFound() async {
        let gateway = gateway()
        for id in ["pi_sim_0123456789abcdef", "pi_sim_XYZ", "pi_1", "", "pi_sim_0123456789ABCDEF"] {
            await assertNotFound { try await gateway.retrievePaymentIntent(id: id) }
        }
    }

    func testOnlyTheLastFinishedIntentsAreKeptAndOlderOnesAreNotFound() async throws {
        let gateway = gateway(finishedIntentLimit: 3)
        var finished: [PaymentIntent] = []
        for index in 0..<5 {
            let intent = try await create(gateway, key: "k\(index)")
            finished.append(
                index.isMultiple(of: 2)
                    ? try await gateway.capturePaymentIntent(id: intent.id, idempotencyKey: "c\(index)")
                    : try await gateway.cancelPaymentIntent(id: intent.id, idempotencyKey: "x\(index)"))
        }
        XCTAssertEqual(gateway.storedIntentCount, 3)
        // The two that finished first are forgotten: every call says notFound.
        for intent in finished.prefix(2) {
            await assertNotFound { try await gateway.retrievePaymentIntent(id: intent.id) }
            await assertNotFound { try await gateway.capturePaymentIntent(id: intent.id, idempotencyKey: "c") }
            await assertNotFound { try await gateway.cancelPaymentIntent(id: intent.id, idempotencyKey: "x") }
        }
        // The last three are answered as they finished.
        for intent in finished.suffix(3) {
            let read = try await gateway.retrievePaymentIntent(id: intent.id)
            XCTAssertEqual(read, intent)
        }
        // A forgotten creation key creates a new PaymentIntent.
        let recreated = try await create(gateway, key: "k0")
        XCTAssertNotEqual(recreated.id, finished[0].id)
        XCTAssertEqual(recreated.status, .requiresCapture)
    }

    func testOpenIntentsAreKeptWhateverTheLimit() async throws {
        let gateway = gateway(finishedIntentLimit: 1)
        var open: [PaymentIntent] = []
        for index in 0..<4 { open.append(try await create(gateway, key: "open\(index)")) }
        for index in 0..<3 {
            let intent = try await create(gateway, key: "done\(index)")
            _ = try await gateway.capturePaymentIntent(id: intent.id, idempotencyKey: "c\(index)")
        }
        XCTAssertEqual(gateway.storedIntentCount, 5)
        for intent in open {
            let read = try await gateway.retrievePaymentIntent(id: intent.id)
            XCTAssertEqual(read.status, .requiresCapture)
            // And an open intent can still be captured (the checkout's path) after many others finished.
            let captured = try await gateway.capturePaymentIntent(id: intent.id, idempotencyKey: "late")
            XCTAssertEqual(captured.status, .succeeded)
        }
        XCTAssertEqual(gateway.storedIntentCount, 1)
    }

    func testListingAnswersTheIntentsItKeepsCreatedSinceNewestFirst() async throws {
        let gateway = gateway()
        let since = Int64(Date().timeIntervalSince1970)
        var created: [PaymentIntent] = []
        for index in 0..<3 { created.append(try await create(gateway, key: "list-\(index)")) }
        let listed = try await gateway.paymentIntents(createdSince: since, limit: 10)
        XCTAssertEqual(listed, created.reversed())
        let few = try await gateway.paymentIntents(createdSince: since, limit: 2)
        XCTAssertEqual(few, Array(created.reversed().prefix(2)))
        let none = try await gateway.paymentIntents(createdSince: since + 3_600, limit: 10)
        XCTAssertEqual(none, [])
    }

    func testManyCheckoutsKeepTheStoreAtTheLimit() async throws {
        let gateway = gateway(finishedIntentLimit: 100)
        for index in 0..<1_000 {
            let intent = try await create(gateway, key: "hold-\(index)-create")
            let read = try await gateway.retrievePaymentIntent(id: intent.id)
            XCTAssertEqual(read.status, .requiresCapture)
            _ = try await gateway.capturePaymentIntent(id: intent.id, idempotencyKey: "hold-\(index)-capture")
            XCTAssertLessThanOrEqual(gateway.storedIntentCount, 100)
        }
        XCTAssertEqual(gateway.storedIntentCount, 100)
    }
}
