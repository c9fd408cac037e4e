import Foundation
import LocalStripeHarness
import PortalMessages
import PortalPayments
import PortalWire
import XCTest

/// `StartCheckout` past its deadline (docs/protocol.md §6): the answer is
/// DEADLINE_EXCEEDED and means nothing was committed — so no slot stays
/// taken and no PaymentIntent made for the call stays payable, whichever
/// order the call took (hold first on a contested block, PaymentIntent first
/// on an uncontested one), even when the provider's answer comes after the
/// deadline (an HTTP request in flight is not abandoned half way).
final class CheckoutDeadlineTests: XCTestCase {
    func testAContestedStartPastItsDeadlineReleasesItsHoldAndCancelsItsPaymentIntent() async throws {
        let slow = SlowCreates(wrapping: try LocalStripeHarnessAccess.stripe().makeClient(), by: .milliseconds(500))
        try await CheckoutTestServer.with(gateway: slow) { server in
            // Five slots are few: the hold comes first.
            let blockID = try await server.seedMorningRun(capacity: 5)
            let ann = try await server.signUp("Ann")

            await assertRPCError(.deadlineExceeded, "DEADLINE_EXCEEDED") {
                try await ann.rpc.call(
                    PortalMethods.startCheckout, StartCheckoutRequest(serviceCode: "walk", blockId: blockID),
                    timeout: .milliseconds(150))
            }
            try await server.eventually("the hold to be released") {
                try server.count(
                    "SELECT count(*) FROM holds WHERE state = 'cancelled' AND end_reason = 'interrupted'") == 1
            }
            let usage = try await server.walkUsage()
            XCTAssertEqual(usage.remaining, 5)
            XCTAssertEqual(usage.held, 0)
            let created = try XCTUnwrap(slow.createdIDs.first)
            try await server.eventually("the PaymentIntent to be cancelled") {
                try await server.paymentIntent(created).status == .canceled
            }
            // The client can start again at once.
            let started = try await ann.startCheckout(block: blockID)
            XCTAssertNotEqual(started.paymentIntentId, created)
            await assertEqual(try await server.walkUsage().remaining, 4)
        }
    }

    func testAnUncontestedStartPastItsDeadlineTakesNoSlotAndCancelsItsPaymentIntent() async throws {
        let slow = SlowCreates(wrapping: try LocalStripeHarnessAccess.stripe().makeClient(), by: .milliseconds(500))
        try await CheckoutTestServer.with(gateway: slow) { server in
            // Plenty of room: the PaymentIntent comes first, then one write.
            let blockID = try await server.seedMorningRun(capacity: 20)
            let ann = try await server.signUp("Ann")

            await assertRPCError(.deadlineExceeded, "DEADLINE_EXCEEDED") {
                try await ann.rpc.call(
                    PortalMethods.startCheckout, StartCheckoutRequest(serviceCode: "walk", blockId: blockID),
                    timeout: .milliseconds(150))
            }
            try await server.eventually("a PaymentIntent to be created") { !slow.createdIDs.isEmpty }
            let created = slow.createdIDs[0]
            try await server.eventually("the PaymentIntent to be cancelled") {
                try await server.paymentIntent(created).status == .canceled
            }
            XCTAssertEqual(try server.count("SELECT count(*) FROM holds"), 0, "no hold was written")
            await assertEqual(try await server.walkUsage().remaining, 20)
        }
    }
}

/// A real gateway whose PaymentIntents are created at once but answered
/// only after `delay`, whether or not the caller still waits — as an HTTP
/// request already sent is answered.
final class SlowCreates: WrappingGateway, @unchecked Sendable {
    let inner: any PaymentGateway
    private let delay: Duration
    private let lock = NSLock()
    private var created: [String] = []

    init(wrapping inner: any PaymentGateway, by delay: Duration) {
        self.inner = inner
        self.delay = delay
    }

    /// The ids of the PaymentIntents created, in order.
    var createdIDs: [String] { lock.withLock { created } }

    func createPaymentIntent(
        amountCents: Int, currency: String, metadata: [String: String], idempotencyKey: String
    ) async throws -> PaymentIntent {
        let intent = try await inner.createPaymentIntent(
            amountCents: amountCents, currency: currency, metadata: metadata, idempotencyKey: idempotencyKey)
        lock.withLock { created.append(intent.id) }
        let nanoseconds = Int(delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { continuation.resume() }
        }
        return intent
    }
}
