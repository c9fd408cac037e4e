import Foundation
import LocalStripeHarness
import PortalStripe
import XCTest

/// The harness itself: isolation between instances, reset, stop.
final class LocalStripeHarnessTests: XCTestCase {
    func testParallelInstancesShareNoState() async throws {
        let shared = try LocalStripe.sharedOrSkip()
        try await shared.reset()
        let own = try LocalStripe.start()
        defer { own.stop() }
        XCTAssertNotEqual(shared.port, own.port)
        XCTAssertNotEqual(shared.workingDirectory, own.workingDirectory)

        let intent = try await shared.makeClient().createPaymentIntent(
            amountCents: 700, currency: "gbp", metadata: [:], idempotencyKey: "only-in-shared")
        do {
            _ = try await own.makeClient().retrievePaymentIntent(id: intent.id)
            XCTFail("an intent of one instance must not exist in another")
        } catch StripeError.invalidRequest(let details) {
            XCTAssertEqual(details.httpStatus, 404)
        }
        // Each instance pickles its store into its own directory, not /tmp/localstripe.pickle.
        let storeFile = shared.workingDirectory.appendingPathComponent("localstripe.pickle").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: storeFile))
    }

    func testResetForgetsEverything() async throws {
        let stripe = try LocalStripe.sharedOrSkip()
        let client = stripe.makeClient()
        let intent = try await client.createPaymentIntent(amountCents: 900, currency: "gbp", metadata: [:], idempotencyKey: "r")
        try await stripe.reset()
        do {
            _ = try await client.retrievePaymentIntent(id: intent.id)
            XCTFail("reset must forget the intent")
        } catch StripeError.invalidRequest(let details) {
            XCTAssertEqual(details.httpStatus, 404)
        }
    }

    func testStopEndsTheServerAndRemovesItsDirectory() async throws {
        _ = try LocalStripe.sharedOrSkip()  // skips when localstripe is not installed
        let own = try LocalStripe.start()
        let client = own.makeClient(configuration: .init(baseURL: own.baseURL, connectTimeout: .seconds(1), retry: .none))
        _ = try await client.createPaymentIntent(amountCents: 100, currency: "gbp", metadata: [:], idempotencyKey: "s")
        let started = ContinuousClock.now
        own.stop()
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3), "SIGTERM is enough; no SIGKILL wait")
        XCTAssertFalse(own.isRunning)
        XCTAssertFalse(FileManager.default.fileExists(atPath: own.workingDirectory.path))
        do {
            _ = try await client.retrievePaymentIntent(id: "pi_x")
            XCTFail("a stopped server must not answer")
        } catch StripeError.network(let failure) {
            XCTAssertEqual(failure.kind, .unreachable)
        }
        own.stop()  // twice is harmless
    }

    func testAnExecutableThatCannotRunIsAFailureToStart() {
        XCTAssertThrowsError(try LocalStripe.start(executable: "/nonexistent/localstripe")) { error in
            guard case LocalStripeError.failedToStart = error else { return XCTFail("\(error)") }
        }
    }
}
