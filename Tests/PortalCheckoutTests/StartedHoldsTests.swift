import PortalDomain
import XCTest

@testable import PortalCheckout

/// What FinalizeCheckout may take from StartedHolds instead of reading the
/// hold back: only a match for the caller and the PaymentIntent, once, and
/// never more entries than the bound.
final class StartedHoldsTests: XCTestCase {
    private func hold(client: Int64 = 3, paymentIntentID: String? = "pi_1") -> CapacityHold {
        CapacityHold(
            token: HoldToken.generate(), block: BlockID(rawValue: 7), service: try! ServiceCode("walk"),
            client: ClientID(rawValue: client), createdAt: Instant(unixSeconds: 0),
            expiresAt: Instant(unixSeconds: 600), state: .active, amountCents: 1500, currency: "gbp",
            paymentIntentID: paymentIntentID)
    }

    func testAMatchingFinalizeTakesTheHoldOnceAndOthersGetNothing() {
        let holds = StartedHolds()
        let ann = hold()
        holds.remember(ann)
        XCTAssertEqual(holds.take(ann.token, client: ClientID(rawValue: 3), paymentIntentID: "pi_1"), ann)
        XCTAssertNil(holds.take(ann.token, client: ClientID(rawValue: 3), paymentIntentID: "pi_1"), "a retry reads the store")

        let bob = hold(client: 4, paymentIntentID: "pi_2")
        holds.remember(bob)
        XCTAssertNil(holds.take(bob.token, client: ClientID(rawValue: 3), paymentIntentID: "pi_2"), "another client")
        holds.remember(bob)
        XCTAssertNil(holds.take(bob.token, client: ClientID(rawValue: 4), paymentIntentID: "pi_1"), "another PaymentIntent")
        XCTAssertEqual(holds.count, 0, "a mismatch takes the entry out too")

        holds.remember(hold(paymentIntentID: nil))
        XCTAssertEqual(holds.count, 0, "a hold without a PaymentIntent is not kept")
    }

    func testTheOldestEntriesMakeWayBeyondTheBound() {
        let holds = StartedHolds()
        let first = hold()
        holds.remember(first)
        var last = first
        for _ in 0..<StartedHolds.capacity {
            last = hold()
            holds.remember(last)
        }
        XCTAssertEqual(holds.count, StartedHolds.capacity)
        XCTAssertNil(holds.take(first.token, client: first.client, paymentIntentID: "pi_1"))
        XCTAssertEqual(holds.take(last.token, client: last.client, paymentIntentID: "pi_1"), last)
    }
}
