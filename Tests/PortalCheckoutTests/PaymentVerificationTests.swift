import PortalDomain
import PortalPayments
import XCTest

@testable import PortalCheckout

/// Which PaymentIntents pay for a hold: every rule of FinalizeCheckout's check.
final class PaymentVerificationTests: XCTestCase {
    private let token = HoldToken.generate()

    private var hold: CapacityHold {
        CapacityHold(
            token: token, block: BlockID(rawValue: 7), service: try! ServiceCode("walk"),
            client: ClientID(rawValue: 3), createdAt: Instant(unixSeconds: 0),
            expiresAt: Instant(unixSeconds: 600), state: .active, amountCents: 1500, currency: "gbp",
            paymentIntentID: "pi_1")
    }

    private func intent(
        id: String = "pi_1", status: PaymentIntent.Status = .requiresCapture, amount: Int = 1500,
        currency: String = "gbp", metadata: [String: String]? = nil, capture: PaymentIntent.CaptureMethod = .manual
    ) -> PaymentIntent {
        PaymentIntent(
            id: id, status: status, amount: amount, currency: currency, clientSecret: "s",
            metadata: metadata ?? ["portal_hold_token": token.rawValue, "portal_client_id": "3"],
            captureMethod: capture)
    }

    private func assertRefused(
        _ reason: PortalError.Reason, _ intent: PaymentIntent, file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try PaymentVerification.verify(intent, for: hold)
            XCTFail("expected \(reason)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.reason, reason, file: file, line: line)
            XCTAssertEqual(error.kind, .failedPrecondition, file: file, line: line)
        }
    }

    func testAnAuthorisedIntentForThisHoldIsVerified() throws {
        let verified = try PaymentVerification.verify(intent(), for: hold)
        XCTAssertEqual(
            verified, VerifiedPayment(paymentIntentID: "pi_1", amountCents: 1500, currency: "gbp", isCaptured: false))
    }

    func testACapturedIntentIsVerifiedAsCaptured() throws {
        XCTAssertTrue(try PaymentVerification.verify(intent(status: .succeeded), for: hold).isCaptured)
    }

    func testUnpaidStatesAreNotConfirmed() {
        for status: PaymentIntent.Status in [
            .requiresPaymentMethod, .requiresConfirmation, .requiresAction, .processing, .canceled,
            .unknown("new_state"),
        ] {
            assertRefused(.paymentNotConfirmed, intent(status: status))
        }
    }

    func testAnotherIntentAmountCurrencyMetadataOrCaptureMethodIsAMismatch() {
        assertRefused(.paymentMismatch, intent(id: "pi_2"))
        assertRefused(.paymentMismatch, intent(amount: 1499))
        assertRefused(.paymentMismatch, intent(currency: "eur"))
        assertRefused(.paymentMismatch, intent(metadata: [:]))
        assertRefused(
            .paymentMismatch, intent(metadata: ["portal_hold_token": token.rawValue, "portal_client_id": "4"]))
        assertRefused(
            .paymentMismatch,
            intent(metadata: ["portal_hold_token": HoldToken.generate().rawValue, "portal_client_id": "3"]))
        assertRefused(.paymentMismatch, intent(capture: .automatic))
    }

    func testAMismatchIsReportedBeforeTheStatus() {
        assertRefused(.paymentMismatch, intent(status: .requiresPaymentMethod, amount: 1))
    }

    func testPaymentIntentIDsAreValidatedAtTheEdge() {
        XCTAssertNoThrow(try Checkout.validatePaymentIntentID("pi_3MtwBwLkdIwHu7ix28a3tqPa"))
        for bad in ["", "pi_", "ch_123", "pi_../../v1/charges", "pi_a b", String(repeating: "a", count: 300)] {
            XCTAssertThrowsError(try Checkout.validatePaymentIntentID(bad)) { error in
                XCTAssertEqual((error as? PortalError)?.reason, .invalidPaymentIntentID, bad)
            }
        }
    }
}

final class CheckoutConfigurationTests: XCTestCase {
    func testBackoffDoublesUpToTheCap() {
        let configuration = Checkout.Configuration(retryInitialBackoffSeconds: 2, retryMaxBackoffSeconds: 300)
        XCTAssertEqual(
            (1...10).map { configuration.backoffSeconds(afterAttempt: $0, jitter: 1) },
            [2, 4, 8, 16, 32, 64, 128, 256, 300, 300])
        XCTAssertEqual(configuration.backoffSeconds(afterAttempt: 3, jitter: 0.5), 4)
    }

    func testFaultsComeOnlyFromTheirEnvironmentVariable() throws {
        XCTAssertTrue(try CheckoutFaults.from(environment: [:]).isEmpty)
        XCTAssertTrue(
            try CheckoutFaults.from(environment: ["PORTAL_FAULT_INJECTION": "crash-after-booking-commit"])
                .crashAfterBookingCommit)
        let both = try CheckoutFaults.from(
            environment: ["PORTAL_FAULT_INJECTION": "crash-after-capture, crash-after-booking-commit"])
        XCTAssertTrue(both.crashAfterCapture && both.crashAfterBookingCommit)
        XCTAssertFalse(
            try CheckoutFaults.from(environment: ["PORTAL_FAULT_INJECTION": "crash-after-booking-commit"])
                .crashAfterCapture)
        XCTAssertThrowsError(try CheckoutFaults.from(environment: ["PORTAL_FAULT_INJECTION": "crash-later"]))
    }

    func testTheMetadataNamesTheHoldTheClientTheStoreAndTheRun() {
        let token = HoldToken.generate()
        XCTAssertEqual(
            CheckoutMetadata.of(
                token, client: ClientID(rawValue: 3), block: BlockID(rawValue: 7), service: try! ServiceCode("walk"),
                store: "0123456789abcdef0123456789abcdef", run: "5eed"),
            [
                "portal_hold_token": token.rawValue, "portal_client_id": "3", "portal_block_id": "7",
                "portal_service_code": "walk", "portal_store_id": "0123456789abcdef0123456789abcdef",
                "portal_run_id": "5eed",
            ])
        XCTAssertEqual(
            PaymentCommand.idempotencyKey(forHold: token, operation: "capture"), "portal-hold-\(token.rawValue)-capture")
    }
}
