import PortalDomain
import PortalMessages
import PortalServer
import PortalStore
import PortalWire

/// The client's own methods that concern its login and bookings (Portal):
/// `Login`, `Logout`, `RescheduleBooking`, `ListMyBookings`. Each acts only
/// for the session's client.
struct PortalSessionAPI: Sendable {
    let store: PortalStore
    /// Needed by `Login` and `Logout`; without it they stay unimplemented.
    let accounts: PortalAccounts?
    let authenticator: Authenticator

    func register(on router: inout Router) {
        if let accounts {
            // Login needs no credentials: it is how a caller gets them.
            router.registerHonouringDeadline(PortalMethods.login) { request, _ in
                let session = try await accounts.login(
                    username: try PortalUsername(request.username),
                    password: try PortalPassword(presented: request.password))
                return LoginResponse(
                    sessionToken: session.token.rawValue, expiresAt: session.expiresAt.unixSeconds,
                    clientId: session.client.rawValue)
            }

            router.registerHonouringDeadline(PortalMethods.logout) { _, context in
                do {
                    _ = try await authenticator.requireSession(context)
                } catch let error as PortalError where error.reason == .loginDisabled {
                    // A disabled login may still end its own session.
                }
                if let token = context.bearerToken {
                    try await accounts.logout(sessionToken: token)
                }
                return LogoutResponse()
            }
        }

        router.registerPortal(PortalMethods.rescheduleBooking, authenticator: authenticator) {
            request, clientID, _ in
            let booking = try await store.rescheduleBooking(
                try BookingID(validating: request.bookingId),
                to: try BlockID(validating: request.newBlockId, field: "new_block_id"),
                for: ClientID(rawValue: clientID))
            return RescheduleBookingResponse(booking: PortalMessages.Booking(booking))
        }

        router.registerPortal(PortalMethods.listMyBookings, authenticator: authenticator) {
            request, clientID, _ in
            let from = request.fromDate.isEmpty ? nil : try LocalDate(request.fromDate, field: "from_date")
            let through = request.toDate.isEmpty ? nil : try LocalDate(request.toDate, field: "to_date")
            return ListMyBookingsResponse(
                bookings: try await store.bookings(of: ClientID(rawValue: clientID), from: from, through: through)
                    .map(PortalMessages.Booking.init))
        }
    }
}

extension Authenticator {
    /// An authenticator accepting `adminKeys` for Admin methods and the
    /// sessions of `accounts` for Portal methods.
    ///
    /// ```swift
    /// let accounts = try PortalAccounts(store: store)
    /// let authenticator = Authenticator(adminKeys: keys, accounts: accounts)
    /// PortalAPI(store: store, authenticator: authenticator, accounts: accounts).register(on: &router)
    /// ```
    public init(adminKeys: [String], accounts: PortalAccounts) {
        self.init(
            adminKeys: adminKeys,
            sessionVerifier: { token in try await accounts.authenticate(sessionToken: token).rawValue },
            cachedSession: { token in accounts.cachedClient(sessionToken: token)?.rawValue })
    }
}
