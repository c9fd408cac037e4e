import PortalCheckout
import PortalDomain
import PortalMessages
import PortalServer
import PortalStore

/// The client's checkout methods (`StartCheckout`, `FinalizeCheckout`,
/// `CancelCheckout`) and its bookings (`ListMyBookings`). Each acts only for
/// the session's client: another client's hold is NOT_FOUND.
///
/// Without a payment provider (`checkout == nil`) the three checkout methods
/// answer FAILED_PRECONDITION / `PAYMENTS_NOT_CONFIGURED`; `ListMyBookings`
/// still works.
struct CheckoutAPI: Sendable {
    let store: PortalStore
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

        router.registerPortal(PortalMethods.listMyBookings, authenticator: authenticator) { request, clientID, _ in
            let from = request.fromDate.isEmpty ? nil : try LocalDate(request.fromDate, field: "from_date")
            let to = request.toDate.isEmpty ? nil : try LocalDate(request.toDate, field: "to_date")
            if let from, let to, to < from {
                throw PortalError.invalidArgument(
                    .invalidDate, "to_date must not be before from_date.", field: "to_date")
            }
            let bookings = try await store.bookings(of: ClientID(rawValue: clientID), from: from, to: to)
            return ListMyBookingsResponse(bookings: bookings.map(PortalMessages.Booking.init))
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
