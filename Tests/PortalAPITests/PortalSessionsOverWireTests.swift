import PortalClient
import PortalDomain
import PortalMessages
import PortalStore
import PortalWire
import XCTest

/// Issue 4 over real TCP: portal logins and sessions, isolation between
/// clients, rate limiting and RescheduleBooking, with the real store and the
/// real password KDF.
final class PortalSessionsOverWireTests: XCTestCase {
    /// A client with a portal login, created through the Admin API.
    private func clientWithLogin(
        _ service: APITestServer, name: String, username: String, password: String = "correct horse",
        canSelfReschedule: Bool = false
    ) async throws -> Int64 {
        let client = try await service.admin.call(
            AdminMethods.createClient, CreateClientRequest(name: name, canSelfReschedule: canSelfReschedule)
        ).client!
        _ = try await service.admin.call(
            AdminMethods.createPortalLogin,
            CreatePortalLoginRequest(clientId: client.clientId, username: username, password: password))
        return client.clientId
    }

    private func login(_ portal: PortalClient, _ username: String, _ password: String = "correct horse")
        async throws -> LoginResponse
    {
        try await portal.call(
            PortalMethods.login, LoginRequest(username: username, password: password), credentials: .anonymous)
    }

    private func myBookings(_ portal: PortalClient, _ token: String) async throws -> [PortalMessages.Booking] {
        try await portal.call(
            PortalMethods.listMyBookings, ListMyBookingsRequest(), credentials: .bearer(token)
        ).bookings
    }

    /// Two blocks offering walk on 2025-10-08, after the test clock's now.
    private func makeDay(_ service: APITestServer) async throws -> (morning: Int64, afternoon: Int64) {
        let admin = service.admin
        _ = try await admin.call(
            AdminMethods.upsertService,
            UpsertServiceRequest(service: .init(serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp")))
        let morning = try await admin.call(
            AdminMethods.createBlock,
            CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "12:00", label: "Morning Run")).block!.blockId
        let afternoon = try await admin.call(
            AdminMethods.createBlock,
            CreateBlockRequest(date: "2025-10-08", startTime: "14:00", endTime: "17:00", label: "Afternoon")).block!.blockId
        _ = try await admin.call(AdminMethods.setCapacity, SetCapacityRequest(blockId: morning, serviceCode: "walk", capacity: 3))
        _ = try await admin.call(AdminMethods.setCapacity, SetCapacityRequest(blockId: afternoon, serviceCode: "walk", capacity: 1))
        return (morning, afternoon)
    }

    private func book(_ service: APITestServer, client: Int64, block: Int64) async throws -> PortalDomain.Booking {
        try await service.store.insertConfirmedBookingForTesting(
            for: ClientID(rawValue: client), block: BlockID(rawValue: block), service: try ServiceCode("walk"),
            paymentIntentID: "pi_\(UUID().uuidString)")
    }

    func testLoginActsAsTheClientAndLogoutEndsTheSession() async throws {
        try await APITestServer.with { service in
            let client = try await clientWithLogin(service, name: "Ada", username: "ada")
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }

            let session = try await login(portal, "ada")
            XCTAssertEqual(session.clientId, client)
            XCTAssertEqual(session.expiresAt, service.clock.now.unixSeconds + 12 * 3600)
            let listed1 = try await myBookings(portal, session.sessionToken)
            XCTAssertEqual(listed1, [])

            let missing = await expectRPCError {
                try await portal.call(PortalMethods.listMyBookings, ListMyBookingsRequest(), credentials: .anonymous)
            }
            XCTAssertEqual(missing?.code, .unauthenticated)
            XCTAssertEqual(missing?.reason, .missingCredentials)

            // An admin key on a Portal method, a session on an Admin method.
            let adminOnPortal = await expectRPCError {
                try await service.admin.call(PortalMethods.listMyBookings, ListMyBookingsRequest())
            }
            XCTAssertEqual(adminOnPortal?.code, .permissionDenied)
            XCTAssertEqual(adminOnPortal?.reason, .wrongCredentialKind)
            let sessionOnAdmin = await expectRPCError {
                try await portal.call(
                    AdminMethods.getClient, GetClientRequest(clientId: client), credentials: .bearer(session.sessionToken))
            }
            XCTAssertEqual(sessionOnAdmin?.code, .permissionDenied)
            XCTAssertEqual(sessionOnAdmin?.reason, .wrongCredentialKind)

            _ = try await portal.call(PortalMethods.logout, LogoutRequest(), credentials: .bearer(session.sessionToken))
            let afterLogout = await expectRPCError { try await self.myBookings(portal, session.sessionToken) }
            XCTAssertEqual(afterLogout?.code, .unauthenticated)
            XCTAssertEqual(afterLogout?.reason, .invalidCredentials)
        }
    }

    func testADisabledClientsSessionStopsWorkingAtOnce() async throws {
        try await APITestServer.with { service in
            let client = try await clientWithLogin(service, name: "Ada", username: "ada")
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let session = try await login(portal, "ada")
            let listed2 = try await myBookings(portal, session.sessionToken)
            XCTAssertEqual(listed2, [])

            _ = try await service.admin.call(AdminMethods.disablePortalLogin, DisablePortalLoginRequest(clientIds: [client]))

            // The very next call, on the same connection, is refused.
            let refused = await expectRPCError { try await self.myBookings(portal, session.sessionToken) }
            XCTAssertEqual(refused?.code, .unauthenticated)
            XCTAssertEqual(refused?.reason.rawValue, "LOGIN_DISABLED")
            // And it cannot log in again (answered like a wrong password).
            let again = await expectRPCError { try await self.login(portal, "ada") }
            XCTAssertEqual(again?.code, .unauthenticated)
            XCTAssertEqual(again?.reason, .invalidCredentials)
            // The account stays, shown as disabled.
            let shown = try await service.admin.call(AdminMethods.getClient, GetClientRequest(clientId: client))
            XCTAssertEqual(shown.client?.loginState, .disabled)
            XCTAssertEqual(shown.client?.username, "ada")

            _ = try await service.admin.call(AdminMethods.enablePortalLogin, EnablePortalLoginRequest(clientIds: [client]))
            let fresh = try await login(portal, "ada")
            let listed3 = try await myBookings(portal, fresh.sessionToken)
            XCTAssertEqual(listed3, [])
        }
    }

    func testARemovedLoginCannotLogInAndItsSessionEnds() async throws {
        try await APITestServer.with { service in
            let client = try await clientWithLogin(service, name: "Ada", username: "ada")
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let session = try await login(portal, "ada")

            let removed = try await service.admin.call(
                AdminMethods.removePortalLogin, RemovePortalLoginRequest(clientIds: [client], deleteUser: false))
            XCTAssertEqual(removed.results.map(\.outcome), [.done])

            let ended = await expectRPCError { try await self.myBookings(portal, session.sessionToken) }
            XCTAssertEqual(ended?.code, .unauthenticated)
            XCTAssertEqual(ended?.reason, .invalidCredentials)
            let refused = await expectRPCError { try await self.login(portal, "ada") }
            XCTAssertEqual(refused?.code, .unauthenticated)
            XCTAssertEqual(refused?.reason, .invalidCredentials)
        }
    }

    func testWrongUsernameAndWrongPasswordLookTheSame() async throws {
        try await APITestServer.with { service in
            _ = try await clientWithLogin(service, name: "Ada", username: "ada")
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let wrongPassword = await expectRPCError { try await self.login(portal, "ada", "wrong horse") }
            let wrongUsername = await expectRPCError { try await self.login(portal, "adb", "correct horse") }
            XCTAssertEqual(wrongPassword?.code, .unauthenticated)
            XCTAssertEqual(wrongPassword?.reason, .invalidCredentials)
            XCTAssertEqual(wrongUsername?.code, wrongPassword?.code)
            XCTAssertEqual(wrongUsername?.reason, wrongPassword?.reason)
            XCTAssertEqual(wrongUsername?.message, wrongPassword?.message)
            XCTAssertEqual(wrongUsername?.details, wrongPassword?.details)
        }
    }

    func testLoginRateLimitingKicksInAndLifts() async throws {
        try await APITestServer.with { service in
            _ = try await clientWithLogin(service, name: "Ada", username: "ada")
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            for _ in 0..<5 {
                let error = await expectRPCError { try await self.login(portal, "ada", "wrong horse") }
                XCTAssertEqual(error?.reason, .invalidCredentials)
            }
            let limited = await expectRPCError { try await self.login(portal, "ada") }
            XCTAssertEqual(limited?.code, .resourceExhausted)
            XCTAssertEqual(limited?.reason.rawValue, "RATE_LIMITED")
            XCTAssertEqual(limited?.details["retry_after_seconds"], "300")

            service.clock.advance(bySeconds: 299)
            let stillLimited = await expectRPCError { try await self.login(portal, "ada") }
            XCTAssertEqual(stillLimited?.details["retry_after_seconds"], "1")
            service.clock.advance(bySeconds: 1)
            let session = try await login(portal, "ada")
            XCTAssertFalse(session.sessionToken.isEmpty)
        }
    }

    func testOneClientCannotSeeOrMoveAnothersBooking() async throws {
        try await APITestServer.with { service in
            let day = try await makeDay(service)
            let ada = try await clientWithLogin(service, name: "Ada", username: "ada", canSelfReschedule: true)
            _ = try await clientWithLogin(service, name: "Bob", username: "bob", canSelfReschedule: true)
            let adasBooking = try await book(service, client: ada, block: day.morning)
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let bobSession = try await login(portal, "bob").sessionToken
            let adaSession = try await login(portal, "ada").sessionToken

            let listed4 = try await myBookings(portal, bobSession)
            XCTAssertEqual(listed4, [])
            let listed5 = try await myBookings(portal, adaSession).map(\.bookingId)
            XCTAssertEqual(listed5, [adasBooking.id.rawValue])

            let notBobs = await expectRPCError {
                try await portal.call(
                    PortalMethods.rescheduleBooking,
                    RescheduleBookingRequest(bookingId: adasBooking.id.rawValue, newBlockId: day.afternoon),
                    credentials: .bearer(bobSession))
            }
            let nonexistent = await expectRPCError {
                try await portal.call(
                    PortalMethods.rescheduleBooking,
                    RescheduleBookingRequest(bookingId: adasBooking.id.rawValue + 100, newBlockId: day.afternoon),
                    credentials: .bearer(bobSession))
            }
            XCTAssertEqual(notBobs?.code, .notFound)
            XCTAssertEqual(notBobs?.reason.rawValue, "BOOKING_NOT_FOUND")
            XCTAssertEqual(nonexistent?.code, notBobs?.code)
            XCTAssertEqual(nonexistent?.reason, notBobs?.reason)
            // Ada's booking did not move.
            let listed6 = try await myBookings(portal, adaSession).map(\.blockId)
            XCTAssertEqual(listed6, [day.morning])
        }
    }

    func testRescheduleBookingOverTheWire() async throws {
        try await APITestServer.with { service in
            let day = try await makeDay(service)
            let ada = try await clientWithLogin(service, name: "Ada", username: "ada")
            let booking = try await book(service, client: ada, block: day.morning)
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let session = try await login(portal, "ada").sessionToken
            let move = RescheduleBookingRequest(bookingId: booking.id.rawValue, newBlockId: day.afternoon)

            let notAllowed = await expectRPCError {
                try await portal.call(PortalMethods.rescheduleBooking, move, credentials: .bearer(session))
            }
            XCTAssertEqual(notAllowed?.code, .permissionDenied)
            XCTAssertEqual(notAllowed?.reason.rawValue, "RESCHEDULE_NOT_ALLOWED")

            _ = try await service.admin.call(
                AdminMethods.setCanSelfReschedule, SetCanSelfRescheduleRequest(clientIds: [ada], canSelfReschedule: true))
            let moved = try await portal.call(PortalMethods.rescheduleBooking, move, credentials: .bearer(session)).booking
            XCTAssertEqual(moved?.bookingId, booking.id.rawValue)
            XCTAssertEqual(moved?.blockId, day.afternoon)
            XCTAssertEqual(moved?.startTime, "14:00")
            XCTAssertEqual(moved?.endTime, "15:00")
            XCTAssertEqual(moved?.blockLabel, "Afternoon")
            XCTAssertEqual(moved?.paymentIntentId, booking.paymentIntentID)
            XCTAssertEqual(moved?.amountCents, booking.amountCents)

            let day8 = try await service.admin.call(AdminMethods.getDay, GetDayRequest(date: "2025-10-08"))
            XCTAssertEqual(day8.blocks.map { $0.capacities.first?.booked }, [0, 1])

            // The afternoon (capacity 1) is now full for anyone else.
            let bob = try await clientWithLogin(service, name: "Bob", username: "bob", canSelfReschedule: true)
            let bobsBooking = try await book(service, client: bob, block: day.morning)
            let bobSession = try await login(portal, "bob").sessionToken
            let full = await expectRPCError {
                try await portal.call(
                    PortalMethods.rescheduleBooking,
                    RescheduleBookingRequest(bookingId: bobsBooking.id.rawValue, newBlockId: day.afternoon),
                    credentials: .bearer(bobSession))
            }
            XCTAssertEqual(full?.reason.rawValue, "CAPACITY_FULL")
            // Ada's booking is not Bob's: not found, naming the field.
            let notBobs = await expectRPCError {
                try await portal.call(
                    PortalMethods.rescheduleBooking,
                    RescheduleBookingRequest(bookingId: booking.id.rawValue, newBlockId: day.morning),
                    credentials: .bearer(bobSession))
            }
            XCTAssertEqual(notBobs?.code, .notFound)
            XCTAssertEqual(notBobs?.reason.rawValue, "BOOKING_NOT_FOUND")
            XCTAssertEqual(notBobs?.details["field"], "booking_id")
            let badID = await expectRPCError {
                try await portal.call(
                    PortalMethods.rescheduleBooking,
                    RescheduleBookingRequest(bookingId: bobsBooking.id.rawValue, newBlockId: 0),
                    credentials: .bearer(bobSession))
            }
            XCTAssertEqual(badID?.code, .invalidArgument)
            XCTAssertEqual(badID?.details["field"], "new_block_id")
        }
    }
}
