import Foundation
import LocalStripeHarness
import Logging
import PortalClient
import PortalDomain
import PortalMessages
import PortalStripe
import PortalWire
import XCTest

/// SPEC §2's pre-pay booking, each scenario over real TCP against the real
/// server (real SQLite file) and a real localstripe.
final class CheckoutScenarioTests: XCTestCase {
    // MARK: The happy path

    func testHappyPathBooksCapturesListsTheBookingAndTakesOneSlot() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 5)
            let ann = try await server.signUp("Ann")

            let blocks = try await ann.listBlocks()
            XCTAssertEqual(blocks.map(\.remaining), [5])
            XCTAssertEqual(blocks.first?.priceCents, 1500)

            let started = try await ann.startCheckout(block: blockID, expectedPrice: 1500)
            XCTAssertEqual(started.amountCents, 1500)
            XCTAssertEqual(started.currency, "gbp")
            XCTAssertTrue(started.paymentIntentId.hasPrefix("pi_"))
            XCTAssertFalse(started.clientSecret.isEmpty)
            XCTAssertEqual(started.expiresAt, CheckoutTestServer.start.unixSeconds + 600)
            let created = try await server.paymentIntent(started.paymentIntentId)
            XCTAssertEqual(created.captureMethod, .manual)
            XCTAssertEqual(created.metadata["portal_hold_token"], started.holdToken)
            XCTAssertEqual(created.metadata["portal_client_id"], String(ann.clientID))
            await assertEqual(try await server.walkUsage().held, 1)
            // Kept so that finalizing need not read the hold back (StartedHolds)…
            XCTAssertEqual(server.startedHoldCount, 1)

            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
            let booking = try await ann.finalize(started)
            // …and taken out by the finalize that used it.
            XCTAssertEqual(server.startedHoldCount, 0)

            XCTAssertEqual(booking.clientId, ann.clientID)
            XCTAssertEqual(booking.blockId, blockID)
            XCTAssertEqual(booking.date, CheckoutTestServer.date)
            XCTAssertEqual(booking.startTime, "09:00")
            XCTAssertEqual(booking.endTime, "10:00")
            XCTAssertEqual(booking.blockLabel, "Morning Run")
            XCTAssertEqual(booking.amountCents, 1500)
            XCTAssertEqual(booking.paymentIntentId, started.paymentIntentId)
            XCTAssertEqual(booking.status, .confirmed)
            XCTAssertEqual(booking.paymentState, .captured)

            await assertEqual(try await ann.myBookings().map(\.bookingId), [booking.bookingId])
            await assertEqual(try await server.adminBookings().map(\.bookingId), [booking.bookingId])
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .succeeded)
            let usage = try await server.walkUsage()
            XCTAssertEqual([usage.booked, usage.held, usage.remaining], [1, 0, 4])
            await assertEqual(try await ann.listBlocks().map(\.remaining), [4])
            try await server.store.captureRecordsWritten()  // FinalizeCheckout records it in the background
            XCTAssertEqual(
                try server.paymentEvents(started.paymentIntentId), ["payment.capture_queued", "payment.captured"])
            // Five slots are few: the hold was taken first, the PaymentIntent attached after.
            XCTAssertEqual(try server.count("SELECT count(*) FROM audit_log WHERE event = 'hold.payment_attached'"), 1)
        }
    }

    func testOnAnUncontestedBlockTheHoldIsTakenWithItsPaymentIntentInOneWrite() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 20)
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID, expectedPrice: 1500)
            let created = try await server.paymentIntent(started.paymentIntentId)
            XCTAssertEqual(created.metadata["portal_hold_token"], started.holdToken)
            XCTAssertEqual(created.amount, 1500)
            XCTAssertEqual(try server.count("SELECT count(*) FROM audit_log WHERE event = 'hold.created'"), 1)
            XCTAssertEqual(try server.count("SELECT count(*) FROM audit_log WHERE event = 'hold.payment_attached'"), 0)
            XCTAssertEqual(
                try server.count(
                    "SELECT count(*) FROM holds WHERE state = 'active' AND payment_intent_id IS NOT NULL AND client_secret IS NOT NULL"),
                1)
            // A retry answers the same hold and PaymentIntent without a write or a Stripe call.
            let again = try await ann.startCheckout(block: blockID, expectedPrice: 1500)
            XCTAssertEqual(again.holdToken, started.holdToken)
            XCTAssertEqual(again.paymentIntentId, started.paymentIntentId)

            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentState, .captured)
            let usage = try await server.walkUsage()
            XCTAssertEqual([usage.booked, usage.held, usage.remaining], [1, 0, 19])
            try await server.store.captureRecordsWritten()  // FinalizeCheckout records it in the background
            XCTAssertEqual(
                try server.paymentEvents(started.paymentIntentId), ["payment.capture_queued", "payment.captured"])
            XCTAssertEqual(try server.count("SELECT count(*) FROM outbox"), 1)
        }
    }

    func testFinalizingTwiceGivesOneBookingAndOneCapture() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)

            let first = try await ann.finalize(started)
            let second = try await ann.finalize(started)
            async let third = ann.finalize(started)
            async let fourth = ann.finalize(started)
            let (a, b) = try await (third, fourth)

            XCTAssertEqual(Set([first, second, a, b].map(\.bookingId)), [first.bookingId])
            await assertEqual(try await server.adminBookings().count, 1)
            try await server.store.captureRecordsWritten()  // FinalizeCheckout records it in the background
            XCTAssertEqual(try server.count("SELECT count(*) FROM outbox WHERE kind = 'capture'"), 1)
            XCTAssertEqual(try server.paymentEvents(started.paymentIntentId).filter { $0 == "payment.captured" }.count, 1)
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .succeeded)
        }
    }

    func testStartCheckoutRetryReturnsTheSameHoldAndPaymentIntentAndAStalePriceIsRefused() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 5)
            let ann = try await server.signUp("Ann")
            await assertRPCError(.failedPrecondition, "PRICE_CHANGED") {
                try await ann.startCheckout(block: blockID, expectedPrice: 1200)
            }
            await assertEqual(try await server.walkUsage().held, 0)

            let first = try await ann.startCheckout(block: blockID)
            let retry = try await ann.startCheckout(block: blockID, expectedPrice: nil)
            XCTAssertEqual(retry.holdToken, first.holdToken)
            XCTAssertEqual(retry.paymentIntentId, first.paymentIntentId)
            XCTAssertEqual(retry.clientSecret, first.clientSecret)
            await assertEqual(try await server.walkUsage().held, 1)

            // The price goes up: a retry is still the hold taken at 1500 —
            // expecting 1500 gets it back, expecting the new price is told
            // the hold's.
            _ = try await server.admin.call(
                AdminMethods.upsertService,
                UpsertServiceRequest(
                    service: .init(
                        serviceCode: "walk", durationMinutes: 60, priceCents: 1600, currency: "gbp", notes: "")))
            let atHoldPrice = try await ann.startCheckout(block: blockID, expectedPrice: 1500)
            XCTAssertEqual(atHoldPrice.holdToken, first.holdToken)
            XCTAssertEqual(atHoldPrice.paymentIntentId, first.paymentIntentId)
            do {
                _ = try await ann.startCheckout(block: blockID, expectedPrice: 1600)
                XCTFail("the hold's price is 1500")
            } catch let error as RPCError {
                XCTAssertEqual(error.reason.rawValue, "PRICE_CHANGED")
                XCTAssertEqual(error.details["price_cents"], "1500")
            }
            // A new checkout (another client) pays the new price.
            let bea = try await server.signUp("Bea")
            await assertRPCError(.failedPrecondition, "PRICE_CHANGED") {
                try await bea.startCheckout(block: blockID, expectedPrice: 1500)
            }
            let beas = try await bea.startCheckout(block: blockID, expectedPrice: 1600)
            await assertEqual(try await server.paymentIntent(beas.paymentIntentId).amount, 1600)
            await assertEqual(try await server.walkUsage().held, 2)
        }
    }

    // MARK: Payments that are not (yet) good

    func testADeclinedCardMakesNoBookingAndKeepsTheHoldForAnotherTry() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            do {
                try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId, card: .declinedOnCharge)
                XCTFail("the card should be declined")
            } catch StripeError.cardError {}

            await assertRPCError(.failedPrecondition, "PAYMENT_NOT_CONFIRMED") { try await ann.finalize(started) }
            await assertTrue(try await ann.myBookings().isEmpty)
            await assertTrue(try await server.adminBookings().isEmpty)
            // The hold lives on and a retried StartCheckout gives the same one
            // back, so the browser may pay again. (localstripe cannot re-pay a
            // declined intent; real Stripe can — see docs/stripe.md. The 3-D
            // Secure test below pays again on the same hold.)
            await assertEqual(try await server.walkUsage().held, 1)
            let again = try await ann.startCheckout(block: blockID)
            XCTAssertEqual(again.paymentIntentId, started.paymentIntentId)
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .requiresPaymentMethod)
        }
    }

    func testThreeDSecureIsBookedOnceAuthenticated() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            let challenged = try await server.stripe.payAsBrowser(
                paymentIntentID: started.paymentIntentId, card: .threeDSecure)
            XCTAssertEqual(challenged.status, .requiresAction)
            await assertRPCError(.failedPrecondition, "PAYMENT_NOT_CONFIRMED") { try await ann.finalize(started) }

            try await server.stripe.authenticate(
                paymentIntent: started.paymentIntentId, clientSecret: started.clientSecret, success: true)
            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentState, .captured)
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .succeeded)
        }
    }

    func testAFailedThreeDSecureCanBePaidAgainOnTheSameHold() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId, card: .threeDSecure)
            try await server.stripe.authenticate(
                paymentIntent: started.paymentIntentId, clientSecret: started.clientSecret, success: false)
            await assertRPCError(.failedPrecondition, "PAYMENT_NOT_CONFIRMED") { try await ann.finalize(started) }
            await assertTrue(try await server.adminBookings().isEmpty)

            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId, card: .visa)
            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentIntentId, started.paymentIntentId)
            await assertEqual(try await server.walkUsage().booked, 1)
        }
    }

    // MARK: Payments that are not this hold's

    func testFinalizeWithAnotherHoldsPaymentIntentIsRefusedAndWritesNothing() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let bob = try await server.signUp("Bob")
            let annStarted = try await ann.startCheckout(block: blockID)
            let bobStarted = try await bob.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: bobStarted.paymentIntentId)

            let before = try server.snapshot()
            await assertRPCError(.failedPrecondition, "PAYMENT_MISMATCH") {
                try await ann.finalize(holdToken: annStarted.holdToken, paymentIntent: bobStarted.paymentIntentId)
            }
            XCTAssertEqual(try server.snapshot(), before)
            await assertEqual(try await server.paymentIntent(bobStarted.paymentIntentId).status, .requiresCapture)
        }
    }

    func testFinalizeOfAnotherClientsHoldIsNotFoundAndWritesNothing() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let mallory = try await server.signUp("Mallory")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)

            let before = try server.snapshot()
            await assertRPCError(.notFound, "HOLD_NOT_FOUND", field: "hold_token") { try await mallory.finalize(started) }
            await assertRPCError(.notFound, "HOLD_NOT_FOUND", field: "hold_token") { try await mallory.cancel(started) }
            XCTAssertEqual(try server.snapshot(), before)
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .requiresCapture)
            await assertTrue(try await mallory.myBookings().isEmpty)
        }
    }

    func testAPaymentIntentChangedToAnotherAmountIsRefusedAndWritesNothing() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            // Someone changes the amount at Stripe behind the service's back.
            try await server.stripe.updateAmount(of: started.paymentIntentId, to: 100)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).amount, 100)

            let before = try server.snapshot()
            await assertRPCError(.failedPrecondition, "PAYMENT_MISMATCH") { try await ann.finalize(started) }
            XCTAssertEqual(try server.snapshot(), before)
            await assertTrue(try await server.adminBookings().isEmpty)
        }
    }

    // MARK: Holds that expired

    func testAPaymentAfterTheHoldExpiredIsBookedWhenThereIsRoom() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 1)
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            server.clock.advance(bySeconds: 601)
            await assertEqual(try await server.walkUsage().held, 0, "an expired hold no longer counts")
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)

            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentState, .captured)
            let usage = try await server.walkUsage()
            XCTAssertEqual([usage.booked, usage.remaining], [1, 0])
        }
    }

    func testAPaymentAfterTheHoldExpiredAndTheRoomWentIsCancelledNotCharged() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 1)
            let ann = try await server.signUp("Ann")
            let bob = try await server.signUp("Bob")
            let late = try await ann.startCheckout(block: blockID)
            server.clock.advance(bySeconds: 601)
            let bobs = try await bob.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: bobs.paymentIntentId)
            _ = try await bob.finalize(bobs)
            try await server.stripe.payAsBrowser(paymentIntentID: late.paymentIntentId)

            await assertRPCError(.failedPrecondition, "CAPACITY_GONE") { try await ann.finalize(late) }
            await assertEqual(try await server.paymentIntent(late.paymentIntentId).status, .canceled)
            await assertTrue(try await ann.myBookings().isEmpty)
            // Asking again says the same and changes nothing.
            await assertRPCError(.failedPrecondition, "CAPACITY_GONE") { try await ann.finalize(late) }
            let usage = try await server.walkUsage()
            XCTAssertEqual([usage.booked, usage.held, usage.remaining], [1, 0, 0])
            XCTAssertEqual(try server.paymentEvents(late.paymentIntentId), ["payment.cancel_queued", "payment.canceled"])
        }
    }

    // MARK: The sweeper

    func testAHoldPaidButNeverFinalizedIsBookedByTheSweeper() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
            // The browser closes. Within the grace nothing happens.
            server.clock.advance(bySeconds: 600 + 30)
            var report = await server.sweeper.sweepOnce()
            XCTAssertEqual(report.booked, 0)
            server.clock.advance(bySeconds: 31)
            report = await server.sweeper.sweepOnce()
            XCTAssertEqual(report.booked, 1)
            try await assertBookedAndCaptured(started, for: ann, on: server)
        }
    }

    /// `started` is the client's one booking, captured, and the client
    /// coming back later to finalize gets that same booking.
    private func assertBookedAndCaptured(
        _ started: StartCheckoutResponse, for client: PortalSession, on server: CheckoutTestServer,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let bookings = try await client.myBookings()
        XCTAssertEqual(bookings.map(\.paymentIntentId), [started.paymentIntentId], file: file, line: line)
        XCTAssertEqual(bookings.first?.paymentState, .captured, file: file, line: line)
        let intent = try await server.paymentIntent(started.paymentIntentId)
        XCTAssertEqual(intent.status, .succeeded, file: file, line: line)
        let again = try await client.finalize(started)
        XCTAssertEqual(again.bookingId, bookings.first?.bookingId, file: file, line: line)
    }

    func testAHoldPaidInTimeIsBookedAtTheLastCallAndKeepsItsSlotThroughTheGrace() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 1)
            let ann = try await server.signUp("Ann")
            let bob = try await server.signUp("Bob")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
            // The browser closes. The round before the hold expires books it.
            server.clock.advance(bySeconds: 600 - 10)
            let report = await server.sweeper.sweepOnce()
            XCTAssertEqual(report.booked, 1)
            // Past the expiry, within the grace: the only slot is Ann's
            // booking, not free for Bob.
            server.clock.advance(bySeconds: 20)
            await assertRPCError(.failedPrecondition, "CAPACITY_FULL") { try await bob.startCheckout(block: blockID) }
            try await assertBookedAndCaptured(started, for: ann, on: server)
        }
    }

    func testTheLastCallLeavesAnUnpaidHoldToItsClient() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 1)
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            server.clock.advance(bySeconds: 600 - 10)
            let report = await server.sweeper.sweepOnce()
            XCTAssertEqual([report.booked, report.released, report.deferred], [0, 0, 0])
            await assertEqual(
                try await server.paymentIntent(started.paymentIntentId).status, .requiresPaymentMethod)
            // Still Ann's: she pays in the last seconds and finalizes.
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentIntentId, started.paymentIntentId)
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .succeeded)
        }
    }

    func testAnAbandonedUnpaidHoldIsCancelledByTheSweeper() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            server.clock.advance(bySeconds: 600 + 61)
            let report = await server.sweeper.sweepOnce()
            XCTAssertEqual(report.released, 1)

            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .canceled)
            await assertTrue(try await server.adminBookings().isEmpty)
            await assertRPCError(.failedPrecondition, "HOLD_EXPIRED") { try await ann.finalize(started) }
            XCTAssertEqual(try server.count("SELECT count(*) FROM holds WHERE state = 'expired'"), 1)
        }
    }

    // MARK: Cancelling, outages, no provider

    func testCancelCheckoutReleasesTheSlotAndCancelsThePayment() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
            try await ann.cancel(started)
            try await ann.cancel(started)

            await assertEqual(try await server.walkUsage().remaining, 5)
            await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .canceled)
            await assertRPCError(.failedPrecondition, "HOLD_CANCELLED") { try await ann.finalize(started) }
        }
    }

    func testStripeUnreachableDuringStartCheckoutAnswersUnavailableAndTakesNoSlot() async throws {
        try await CheckoutTestServer.with(gateway: try Self.unreachableStripe()) { server in
            let blockID = try await server.seedMorningRun(capacity: 5)
            let ann = try await server.signUp("Ann")
            let before = try await server.walkUsage()

            await assertRPCError(.unavailable, "PAYMENT_PROVIDER_UNAVAILABLE") {
                try await ann.startCheckout(block: blockID)
            }
            let after = try await server.walkUsage()
            XCTAssertEqual(after.remaining, before.remaining)
            XCTAssertEqual(after.held, 0)
            // Five slots are few: the hold came first, and was released.
            XCTAssertEqual(
                try server.count(
                    "SELECT count(*) FROM holds WHERE state = 'cancelled' AND end_reason = 'payment_provider_unavailable'"),
                1)
        }
    }

    func testStripeUnreachableOnAnUncontestedBlockWritesNothing() async throws {
        try await CheckoutTestServer.with(gateway: try Self.unreachableStripe()) { server in
            let blockID = try await server.seedMorningRun(capacity: 20)
            let ann = try await server.signUp("Ann")

            await assertRPCError(.unavailable, "PAYMENT_PROVIDER_UNAVAILABLE") {
                try await ann.startCheckout(block: blockID)
            }
            await assertEqual(try await server.walkUsage().remaining, 20)
            // Plenty of room: the PaymentIntent comes before the hold, so nothing was written.
            XCTAssertEqual(try server.count("SELECT count(*) FROM holds"), 0)
            XCTAssertEqual(try server.count("SELECT count(*) FROM outbox"), 0)
        }
    }

    func testTheSimulatedGatewayApprovesEveryCheckoutWithoutABrowser() async throws {
        let simulated = SimulatedPaymentGateway(logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        XCTAssertNotNil(simulated.simulationWarning)
        try await CheckoutTestServer.with(gateway: simulated) { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            let started = try await ann.startCheckout(block: blockID)
            XCTAssertTrue(started.paymentIntentId.hasPrefix("pi_sim_"))
            let booking = try await ann.finalize(started)
            XCTAssertEqual(booking.paymentState, .captured)
            await assertEqual(try await simulated.retrievePaymentIntent(id: started.paymentIntentId).status, .succeeded)
        }
    }

    func testWithoutAPaymentProviderCheckoutAnswersPaymentsNotConfigured() async throws {
        try await CheckoutTestServer.with(payments: false) { server in
            let blockID = try await server.seedMorningRun()
            let ann = try await server.signUp("Ann")
            await assertRPCError(.failedPrecondition, "PAYMENTS_NOT_CONFIGURED") {
                try await ann.startCheckout(block: blockID)
            }
            await assertEqual(try await server.walkUsage().held, 0)
            await assertTrue(try await ann.myBookings().isEmpty)
        }
    }

    /// A Stripe client pointed at a closed loopback port, with short timeouts.
    private static func unreachableStripe() throws -> StripeClient {
        let closedPort = try ClosedPort.make()
        return StripeClient(
            secretKey: LocalStripe.secretKey,
            configuration: .init(
                baseURL: "http://127.0.0.1:\(closedPort)", connectTimeout: .seconds(1), requestTimeout: .seconds(2),
                retry: .init(maxAttempts: 2, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(20))),
            logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}
