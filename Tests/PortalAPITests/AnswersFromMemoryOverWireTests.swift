import PortalClient
import PortalDomain
import PortalMessages
import PortalStore
import PortalWire
import XCTest

/// ListBlocks and portal sessions are answered from memory on the event
/// loop (issue 6); these prove the answers are never stale: every committed
/// write that changes them, and every hold that expires, shows at once.
final class AnswersFromMemoryOverWireTests: XCTestCase {
    private struct Day {
        let morning: Int64
        let afternoon: Int64
        let client: Int64
        let session: String
    }

    /// Walk offered in two blocks of 2025-10-08 (capacity 3 and 1), and a
    /// client logged in through the portal.
    private func makeDay(_ service: APITestServer, portal: PortalClient) async throws -> Day {
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
        _ = try await admin.call(AdminMethods.setCapacity, SetCapacityRequest(blockId: morning, serviceCode: "walk", capacity: 3, allowOverlap: true))
        _ = try await admin.call(AdminMethods.setCapacity, SetCapacityRequest(blockId: afternoon, serviceCode: "walk", capacity: 1, allowOverlap: true))
        let client = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: "Ada")).client!.clientId
        _ = try await admin.call(
            AdminMethods.createPortalLogin,
            CreatePortalLoginRequest(clientId: client, username: "ada", password: "correct horse"))
        let session = try await portal.call(
            PortalMethods.login, LoginRequest(username: "ada", password: "correct horse"), credentials: .anonymous)
        return Day(morning: morning, afternoon: afternoon, client: client, session: session.sessionToken)
    }

    private func remaining(_ portal: PortalClient, _ day: Day) async throws -> [Int32] {
        try await portal.call(
            PortalMethods.listBlocks, ListBlocksRequest(date: "2025-10-08", serviceCode: "walk"),
            credentials: .bearer(day.session)
        ).blocks.map(\.remaining)
    }

    private func expectRemaining(
        _ portal: PortalClient, _ day: Day, _ expected: [Int32], line: UInt = #line
    ) async throws {
        let shown = try await remaining(portal, day)
        XCTAssertEqual(shown, expected, line: line)
    }

    func testListBlocksShowsEveryCommittedWriteAtOnce() async throws {
        try await APITestServer.with { service in
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let day = try await makeDay(service, portal: portal)
            let walk = try ServiceCode("walk")
            // Asked twice: the second answer may come from memory.
            try await expectRemaining(portal, day, [3, 1])
            try await expectRemaining(portal, day, [3, 1])

            _ = try await service.store.createHold(
                for: ClientID(rawValue: day.client), block: BlockID(rawValue: day.morning), service: walk)
            try await expectRemaining(portal, day, [2, 1])

            _ = try await service.store.insertConfirmedBookingForTesting(
                for: ClientID(rawValue: day.client), block: BlockID(rawValue: day.afternoon), service: walk,
                paymentIntentID: "pi_cache_test")
            try await expectRemaining(portal, day, [2, 0])

            _ = try await service.admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: day.morning, serviceCode: "walk", capacity: 5, allowOverlap: true))
            try await expectRemaining(portal, day, [4, 0])

            _ = try await service.admin.call(
                AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(serviceCode: "walk", durationMinutes: 60, priceCents: 1700, currency: "gbp")))
            let repriced = try await portal.call(
                PortalMethods.listBlocks, ListBlocksRequest(date: "2025-10-08", serviceCode: "walk"),
                credentials: .bearer(day.session))
            XCTAssertEqual(repriced.blocks.map(\.priceCents), [1700, 1700])
        }
    }

    /// Booking a live hold leaves every `remaining` as it was (its slot
    /// passes from the holds to the bookings), so it need not make the kept
    /// answers stale; booking a hold that had expired takes a slot again,
    /// and shows at once.
    func testABookedLiveHoldChangesNothingShownAndABookedExpiredHoldShowsAtOnce() async throws {
        try await APITestServer.with { service in
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let day = try await makeDay(service, portal: portal)
            let walk = try ServiceCode("walk")
            let client = ClientID(rawValue: day.client)
            func paidHold(_ block: Int64, _ paymentIntentID: String) async throws -> CapacityHold {
                let hold = try await service.store.createHold(
                    for: client, block: BlockID(rawValue: block), service: walk
                ).hold
                _ = try await service.store.attachPayment(
                    paymentIntentID, clientSecret: "\(paymentIntentID)_secret_x", toHold: hold.token, of: client)
                return hold
            }
            func book(_ hold: CapacityHold, _ paymentIntentID: String) async throws {
                let settled = try await service.store.settlePaidHold(
                    hold.token, of: client,
                    payment: VerifiedPayment(
                        paymentIntentID: paymentIntentID, amountCents: hold.amountCents, currency: hold.currency,
                        isCaptured: false),
                    actor: "client")
                guard case .booked = settled else { return XCTFail("\(settled)") }
            }

            let live = try await paidHold(day.morning, "pi_cache_live")
            try await expectRemaining(portal, day, [2, 1])
            try await expectRemaining(portal, day, [2, 1])
            try await book(live, "pi_cache_live")
            try await expectRemaining(portal, day, [2, 1])

            let late = try await paidHold(day.afternoon, "pi_cache_late")
            try await expectRemaining(portal, day, [2, 0])
            service.clock.advance(bySeconds: 601)
            try await expectRemaining(portal, day, [2, 1])
            try await expectRemaining(portal, day, [2, 1])
            try await book(late, "pi_cache_late")
            try await expectRemaining(portal, day, [2, 0])
        }
    }

    func testAnExpiredHoldStopsCountingInListBlocksWithoutAnyWrite() async throws {
        try await APITestServer.with { service in
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let day = try await makeDay(service, portal: portal)
            let walk = try ServiceCode("walk")
            _ = try await service.store.createHold(
                for: ClientID(rawValue: day.client), block: BlockID(rawValue: day.morning), service: walk)
            service.clock.advance(bySeconds: 300)
            _ = try await service.store.createHold(
                for: ClientID(rawValue: day.client), block: BlockID(rawValue: day.afternoon), service: walk)
            try await expectRemaining(portal, day, [2, 0])
            try await expectRemaining(portal, day, [2, 0])

            // The first hold (10 minutes) expires; nothing is written or purged.
            service.clock.advance(bySeconds: 300)
            try await expectRemaining(portal, day, [3, 0])
            service.clock.advance(bySeconds: 299)
            try await expectRemaining(portal, day, [3, 0])
            service.clock.advance(bySeconds: 1)
            try await expectRemaining(portal, day, [3, 1])
        }
    }

    func testADisabledLoginIsRefusedOnTheVeryNextListBlocks() async throws {
        try await APITestServer.with { service in
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let day = try await makeDay(service, portal: portal)
            try await expectRemaining(portal, day, [3, 1])
            try await expectRemaining(portal, day, [3, 1])

            _ = try await service.admin.call(
                AdminMethods.disablePortalLogin, DisablePortalLoginRequest(clientIds: [day.client]))
            let refused = await expectRPCError { try await self.remaining(portal, day) }
            XCTAssertEqual(refused?.code, .unauthenticated)
            XCTAssertEqual(refused?.reason.rawValue, "LOGIN_DISABLED")

            _ = try await service.admin.call(
                AdminMethods.enablePortalLogin, EnablePortalLoginRequest(clientIds: [day.client]))
            let fresh = try await portal.call(
                PortalMethods.login, LoginRequest(username: "ada", password: "correct horse"), credentials: .anonymous)
            let freshDay = Day(morning: day.morning, afternoon: day.afternoon, client: day.client, session: fresh.sessionToken)
            try await expectRemaining(portal, freshDay, [3, 1])
            try await expectRemaining(portal, freshDay, [3, 1])

            _ = try await service.admin.call(
                AdminMethods.removePortalLogin, RemovePortalLoginRequest(clientIds: [day.client], deleteUser: false))
            let removed = await expectRPCError { try await self.remaining(portal, freshDay) }
            XCTAssertEqual(removed?.code, .unauthenticated)
            XCTAssertEqual(removed?.reason, .invalidCredentials)
        }
    }

    func testLogoutAndTheSessionsEndAreRefusedOnTheVeryNextListBlocks() async throws {
        try await APITestServer.with { service in
            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let day = try await makeDay(service, portal: portal)
            try await expectRemaining(portal, day, [3, 1])

            // A second session of the same login, ended by time alone.
            let other = try await portal.call(
                PortalMethods.login, LoginRequest(username: "ada", password: "correct horse"), credentials: .anonymous)
            let otherDay = Day(morning: day.morning, afternoon: day.afternoon, client: day.client, session: other.sessionToken)
            try await expectRemaining(portal, otherDay, [3, 1])

            _ = try await portal.call(PortalMethods.logout, LogoutRequest(), credentials: .bearer(day.session))
            let loggedOut = await expectRPCError { try await self.remaining(portal, day) }
            XCTAssertEqual(loggedOut?.code, .unauthenticated)
            try await expectRemaining(portal, otherDay, [3, 1])

            service.clock.set(to: Instant(unixSeconds: other.expiresAt))
            let expired = await expectRPCError { try await self.remaining(portal, otherDay) }
            XCTAssertEqual(expired?.code, .unauthenticated)
            XCTAssertEqual(expired?.reason, .invalidCredentials)
        }
    }
}
