import PortalCheckout
import PortalDomain
import PortalMessages
import PortalServer

/// The client's checkout methods (`StartCheckout`, `FinalizeCheckout`,
/// `CancelCheckout`). Each acts only for the session's client: another
/// client's hold is NOT_FOUND. (`ListMyBookings` is with the session methods.)
///
/// Without a payment provider (`checkout == nil`) they answer
/// FAILED_PRECONDITION / `PAYMENTS_NOT_CONFIGURED`.
struct CheckoutAPI: Sendable {
    let checkout: Checkout?
    let authenticator: Authenticator

    func register(on router: inout Router) {
        let checkout = self.checkout
        router.registerPortal(PortalMethods.startCheckout, authenticator: authenticator) { request, clientID, _ in
            let started = try await Self.require(checkout).start(
                for: ClientID(rawValue: clientID), service: try ServiceCode(request.serviceCode),
                block: try BlockID(validating: request.blockId),
                expectedPriceCents: request.expectedPriceCents)
            return StartCheckoutResponse(
                holdToken: started.hold.token.rawValue, expiresAt: started.hold.expiresAt.unixSeconds,
                paymentIntentId: started.paymentIntentID, clientSecret: started.clientSecret,
                amountCents: started.hold.amountCents, currency: started.hold.currency,
                blockId: started.hold.block.rawValue, serviceCode: started.hold.service.rawValue)
        }

        router.registerPortal(PortalMethods.finalizeCheckout, authenticator: authenticator) { request, clientID, _ in
            let booking = try await Self.require(checkout).finalize(
                for: ClientID(rawValue: clientID), holdToken: try HoldToken(request.holdToken),
                paymentIntentID: request.paymentIntentId)
            return FinalizeCheckoutResponse(booking: PortalMessages.Booking(booking))
        }

        router.registerPortal(PortalMethods.cancelCheckout, authenticator: authenticator) { request, clientID, _ in
            try await Self.require(checkout).cancel(
                for: ClientID(rawValue: clientID), holdToken: try HoldToken(request.holdToken))
            return CancelCheckoutResponse()
        }
    }

    private static func require(_ checkout: Checkout?) throws(PortalError) -> Checkout {
        guard let checkout else {
            throw PortalError.failedPrecondition(
                .paymentsNotConfigured,
                "Online payment is not configured on this server, so checkout is unavailable.")
        }
        return checkout
    }
}
