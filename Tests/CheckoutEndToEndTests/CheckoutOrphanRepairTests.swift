import Foundation
import LocalStripeHarness
@testable import PortalCheckout
import PortalDomain
import PortalPayments
import PortalStore
import PortalStripe
import XCTest

@testable import portald

/// Start-up repair's search for PaymentIntents an earlier run's unfinished
/// `StartCheckout`s left (the crash itself: CheckoutCrashTests), on a real
/// server and localstripe: only an open PaymentIntent this database created
/// in an earlier run, and that no hold or booking names, is cancelled.
final class CheckoutOrphanRepairTests: XCTestCase {
    func testOnlyAnEarlierRunsPaymentIntentThatNoRowNamesIsCancelled() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 20)
            let ann = try await server.signUp("Ann")
            let provider = server.stripe.makeClient()
            let storeID = server.store.storeID
            let thisRun = try XCTUnwrap(server.assembly.checkout).runID
            func create(store: String, run: String) async throws -> PaymentIntent {
                try await provider.createPaymentIntent(
                    amountCents: 1500, currency: "gbp",
                    metadata: [
                        "portal_hold_token": HoldToken.generate().rawValue, "portal_client_id": String(ann.clientID),
                        "portal_block_id": String(blockID), "portal_service_code": "walk",
                        "portal_store_id": store, "portal_run_id": run,
                    ],
                    idempotencyKey: "test-\(UUID().uuidString)")
            }

            let orphan = try await create(store: storeID, run: "e4a1e7")
            let ofThisRun = try await create(store: storeID, run: thisRun)
            let ofAnotherDeployment = try await create(store: String(repeating: "f", count: 32), run: "e4a1e7")
            // An earlier run's PaymentIntent that a hold names (attached
            // after the hold was taken first).
            let named = try await create(store: storeID, run: "e4a1e7")
            let hold = try await server.store.createHold(
                for: ClientID(rawValue: ann.clientID), block: BlockID(rawValue: blockID), service: try ServiceCode("walk"))
            _ = try await server.store.attachPayment(
                named.id, clientSecret: named.clientSecret, toHold: hold.hold.token, of: ClientID(rawValue: ann.clientID))
            // A checkout of this run, through the API.
            let started = try await ann.startCheckout(block: blockID)
            let untouched = [ofThisRun.id, ofAnotherDeployment.id, named.id, started.paymentIntentId]
            let before = try server.snapshot()

            let asked = await server.sweeper.cancelOrphanedPaymentIntents()

            XCTAssertTrue(asked)
            await assertEqual(try await server.paymentIntent(orphan.id).status, .canceled)
            for id in untouched {
                await assertEqual(try await server.paymentIntent(id).status, .requiresPaymentMethod, id)
            }
            XCTAssertEqual(try server.count("SELECT count(*) FROM outbox"), 1)
            XCTAssertEqual(
                try server.count(
                    "SELECT count(*) FROM outbox WHERE kind = 'cancel' AND payment_intent_id = ?1 AND done_at IS NOT NULL",
                    [.text(orphan.id)]),
                1)
            XCTAssertEqual(try server.paymentEvents(orphan.id), ["payment.cancel_queued", "payment.canceled"])
            // Holds and bookings are as they were.
            let after = try server.snapshot()
            XCTAssertEqual(after["holds"], before["holds"])
            XCTAssertEqual(after["bookings"], before["bookings"])

            // Again: nothing more is queued (the orphan is cancelled now).
            let again = await server.sweeper.cancelOrphanedPaymentIntents()
            XCTAssertTrue(again)
            XCTAssertEqual(try server.count("SELECT count(*) FROM outbox"), 1)
        }
    }

    /// A provider that cannot be reached is asked again at the next round;
    /// one that refuses to list (or a gateway that cannot) is not.
    func testTheSearchIsTriedAgainOnlyWhenTheProviderCouldNotBeReached() async throws {
        let stripe = try LocalStripeHarnessAccess.stripe()
        let unreachable = ListingFails(
            wrapping: stripe.makeClient(),
            error: StripeError.network(
                NetworkFailure(kind: .connectionLost, curlCode: 56, curlMessage: "connection lost (test)", attempts: 1)))
        try await CheckoutTestServer.with(gateway: unreachable) { server in
            let reached = await server.sweeper.cancelOrphanedPaymentIntents()
            XCTAssertFalse(reached, "to be tried again")
        }
        let refusing = ListingFails(
            wrapping: stripe.makeClient(), error: StripeError.authentication(StripeErrorDetails(httpStatus: 403, attempts: 1)))
        try await CheckoutTestServer.with(gateway: refusing) { server in
            let reached = await server.sweeper.cancelOrphanedPaymentIntents()
            XCTAssertTrue(reached, "a refusal is not retried")
        }
        try await CheckoutTestServer.with(gateway: ListingFails(wrapping: stripe.makeClient(), error: PaymentListingUnsupported())) {
            server in
            let reached = await server.sweeper.cancelOrphanedPaymentIntents()
            XCTAssertTrue(reached, "a gateway that cannot list is not asked again")
        }
    }

    func testAnEarlierRunIsToldApartByTheStoreAndTheRunInTheMetadata() {
        func intent(_ metadata: [String: String]) -> PaymentIntent {
            PaymentIntent(
                id: "pi_1", status: .requiresPaymentMethod, amount: 1500, currency: "gbp", clientSecret: "pi_1_secret",
                metadata: metadata, captureMethod: .manual)
        }
        let store = "0123456789abcdef0123456789abcdef"
        XCTAssertTrue(
            CheckoutMetadata.isFromAnEarlierRun(
                intent(["portal_store_id": store, "portal_run_id": "a"]), storeID: store, runID: "b"))
        XCTAssertFalse(
            CheckoutMetadata.isFromAnEarlierRun(
                intent(["portal_store_id": store, "portal_run_id": "b"]), storeID: store, runID: "b"),
            "this run's own")
        XCTAssertFalse(
            CheckoutMetadata.isFromAnEarlierRun(
                intent(["portal_store_id": "ffffffffffffffffffffffffffffffff", "portal_run_id": "a"]), storeID: store,
                runID: "b"),
            "another database's")
        XCTAssertFalse(
            CheckoutMetadata.isFromAnEarlierRun(intent(["portal_store_id": store]), storeID: store, runID: "b"))
        XCTAssertFalse(CheckoutMetadata.isFromAnEarlierRun(intent([:]), storeID: store, runID: "b"))
    }
}

/// A gateway whose listing of PaymentIntents fails with `error`; everything
/// else goes to `inner`.
private struct ListingFails: WrappingGateway {
    let inner: any PaymentGateway
    let error: any Error & Sendable

    init(wrapping inner: any PaymentGateway, error: any Error & Sendable) {
        self.inner = inner
        self.error = error
    }

    func paymentIntents(createdSince since: Int64, limit: Int) async throws -> [PaymentIntent] {
        throw error
    }
}
