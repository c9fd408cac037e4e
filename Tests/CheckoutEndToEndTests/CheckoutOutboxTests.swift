import Foundation
import LocalStripeHarness
import PortalDomain
import PortalMessages
import PortalPayments
import PortalStore
import PortalStripe
import XCTest

/// The outbox over the wire with a real localstripe behind a gateway that
/// loses some answers: captures are retried with the same idempotency key
/// until done, and an "already captured" answer settles the row.
final class CheckoutOutboxTests: XCTestCase {
    func testACaptureThatFailsIsRetriedWithTheSameKeyUntilItIsDone() async throws {
        let stripe = try LocalStripeHarnessAccess.stripe()
        let flaky = FlakyCaptures(wrapping: stripe.makeClient(), mode: .failBeforeSending(times: 2))
        try await CheckoutTestServer.with(gateway: flaky) { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)

            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentState, .capturePending, "the first attempt failed; the booking stands")
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .requiresCapture)

            // Time passes; the worker retries after each backoff. The clock
            // moves only once the failed attempt is rescheduled (not just
            // started), or the retry would be scheduled after the jump.
            for attempt in 2...3 {
                try await server.eventually("attempt \(attempt - 1) to be rescheduled") {
                    try server.count(
                        "SELECT count(*) FROM outbox WHERE attempts = ? AND last_error IS NOT NULL AND next_attempt_at < ?",
                        [.int(attempt - 1), .integer(server.clock.now.unixSeconds + 100)]) == 1
                }
                server.clock.advance(bySeconds: 600)
                try await server.eventually("capture attempt \(attempt)") { flaky.captureKeys.count == attempt }
            }
            try await server.eventually("the capture to be recorded") {
                try await ann.myBookings().first?.paymentState == .captured
            }
            XCTAssertEqual(flaky.captureKeys.count, 3)
            XCTAssertEqual(Set(flaky.captureKeys), ["portal-hold-\(started.holdToken)-capture"])
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .succeeded)
            XCTAssertEqual(try server.count("SELECT attempts FROM outbox"), 3)
            XCTAssertEqual(try server.paymentEvents(started.paymentIntentId).filter { $0 == "payment.captured" }.count, 1)
        }
    }

    func testACaptureWhoseAnswerWasLostIsSettledByTheAlreadyCapturedAnswer() async throws {
        let stripe = try LocalStripeHarnessAccess.stripe()
        let flaky = FlakyCaptures(wrapping: stripe.makeClient(), mode: .loseAnswer(times: 1))
        try await CheckoutTestServer.with(gateway: flaky) { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)

            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentState, .capturePending)
            // Captured at Stripe, but the service never heard.
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .succeeded)

            server.clock.advance(bySeconds: 600)
            try await server.eventually("the capture to be recorded") {
                try await ann.myBookings().first?.paymentState == .captured
            }
            // The retry was refused by localstripe (it ignores idempotency keys
            // and answers 400 to a second capture); reading the PaymentIntent
            // settled it.
            XCTAssertEqual(flaky.captureKeys.count, 2)
            XCTAssertEqual(try server.paymentEvents(started.paymentIntentId), ["payment.capture_queued", "payment.captured"])
        }
    }
}

/// The shared localstripe, skipping when it is not installed.
enum LocalStripeHarnessAccess {
    static func stripe() throws -> LocalStripe { try LocalStripe.sharedOrSkip() }
}

/// A real gateway whose captures fail on purpose: before the request is sent
/// (an outage), or after Stripe applied it (the answer is lost).
final class FlakyCaptures: WrappingGateway, @unchecked Sendable {
    enum Mode {
        case failBeforeSending(times: Int)
        case loseAnswer(times: Int)
    }

    let inner: any PaymentGateway
    private let lock = NSLock()
    private var mode: Mode
    private var keys: [String] = []

    init(wrapping inner: any PaymentGateway, mode: Mode) {
        self.inner = inner
        self.mode = mode
    }

    /// The idempotency key of every capture attempt, in order.
    var captureKeys: [String] { lock.withLock { keys } }

    func capturePaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        let fault: (before: Bool, after: Bool) = lock.withLock {
            keys.append(idempotencyKey)
            switch mode {
            case .failBeforeSending(let times) where times > 0:
                mode = .failBeforeSending(times: times - 1)
                return (true, false)
            case .loseAnswer(let times) where times > 0:
                mode = .loseAnswer(times: times - 1)
                return (false, true)
            default:
                return (false, false)
            }
        }
        if fault.before { throw Self.outage }
        let intent = try await inner.capturePaymentIntent(id: id, idempotencyKey: idempotencyKey)
        if fault.after { throw Self.outage }
        return intent
    }

    private static let outage = StripeError.network(
        NetworkFailure(kind: .connectionLost, curlCode: 56, curlMessage: "connection lost (test)", attempts: 1))
}
