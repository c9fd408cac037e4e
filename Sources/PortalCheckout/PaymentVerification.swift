import PortalDomain
import PortalPayments

/// The metadata every checkout PaymentIntent carries, naming its hold.
public enum CheckoutMetadata {
    /// The hold's token: the PaymentIntent pays for this hold and no other.
    public static let holdToken = "portal_hold_token"
    /// The client who holds it.
    public static let clientID = "portal_client_id"
    /// The block held (for people reading Stripe's dashboard).
    public static let blockID = "portal_block_id"
    /// The service held (for people reading Stripe's dashboard).
    public static let serviceCode = "portal_service_code"
    /// The id of the database whose checkout created it (``PortalStore/storeID``).
    public static let storeID = "portal_store_id"
    /// The id of the process that created it (``Checkout/runID``).
    public static let runID = "portal_run_id"

    /// The metadata of the PaymentIntent for the hold `token` (created
    /// before the hold itself, which then takes that token).
    static func of(
        _ token: HoldToken, client: ClientID, block: BlockID, service: ServiceCode, store: String, run: String
    ) -> [String: String] {
        [
            holdToken: token.rawValue, clientID: String(client.rawValue),
            blockID: String(block.rawValue), serviceCode: service.rawValue,
            storeID: store, runID: run,
        ]
    }

    /// Whether `intent` was created by a checkout of the store `storeID` in
    /// a run other than `runID` (start-up repair's candidates).
    static func isFromAnEarlierRun(_ intent: PaymentIntent, storeID: String, runID: String) -> Bool {
        guard intent.metadata[Self.storeID] == storeID, let run = intent.metadata[Self.runID] else { return false }
        return run != runID
    }
}

/// Whether a PaymentIntent, as the provider reports it, pays for a hold:
/// pure, so that every rule has its own test.
enum PaymentVerification {
    /// The verified payment, or the refusal: `PAYMENT_MISMATCH` when it is not
    /// this hold's payment (another id, amount, currency, capture method or
    /// metadata), `PAYMENT_NOT_CONFIRMED` when it is, but not authorised
    /// (`requires_capture`) or captured (`succeeded`).
    static func verify(_ intent: PaymentIntent, for hold: CapacityHold) throws(PortalError) -> VerifiedPayment {
        guard intent.id == hold.paymentIntentID else {
            throw mismatch("The PaymentIntent is not the one created for this hold.")
        }
        guard intent.metadata[CheckoutMetadata.holdToken] == hold.token.rawValue,
            intent.metadata[CheckoutMetadata.clientID] == String(hold.client.rawValue)
        else {
            throw mismatch("The PaymentIntent does not name this hold.")
        }
        guard Int64(intent.amount) == hold.amountCents, intent.currency.lowercased() == hold.currency else {
            throw mismatch("The PaymentIntent's amount or currency differs from the hold's price.")
        }
        guard intent.captureMethod == .manual else {
            throw mismatch("The PaymentIntent is not set for manual capture.")
        }
        switch intent.status {
        case .requiresCapture:
            return VerifiedPayment(
                paymentIntentID: intent.id, amountCents: hold.amountCents, currency: hold.currency,
                isCaptured: false)
        case .succeeded:
            return VerifiedPayment(
                paymentIntentID: intent.id, amountCents: hold.amountCents, currency: hold.currency,
                isCaptured: true)
        default:
            var details = ["payment_status": intent.status.rawValue]
            if let code = intent.lastPaymentError?.code { details["payment_error"] = code }
            throw PortalError.failedPrecondition(
                .paymentNotConfirmed,
                "The payment is not authorised (\(intent.status.rawValue)); complete it, then finalize again.",
                details: details)
        }
    }

    private static func mismatch(_ message: String) -> PortalError {
        .failedPrecondition(.paymentMismatch, message)
    }
}

extension PortalError {
    /// The payment provider could not be reached or failed.
    static let paymentProviderUnavailable = PortalError(
        .unavailable, .paymentProviderUnavailable,
        "The payment provider could not be reached; try again shortly.")
}
