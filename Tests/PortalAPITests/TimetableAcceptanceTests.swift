import PortalClient
import PortalDomain
import PortalMessages
import PortalWire
import XCTest

/// Issue 3's acceptance walk-through, over real TCP with the real store.
final class TimetableAcceptanceTests: XCTestCase {
    func testSeedWalkThroughOverTheWire() async throws {
        try await APITestServer.with { service in
            let admin = service.admin

            let walk = try await admin.call(
                AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp")))
            XCTAssertTrue(walk.created)
            let daycare = try await admin.call(
                AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "daycare", durationMinutes: 480, priceCents: 3500, currency: "gbp")))
            XCTAssertEqual(daycare.service?.durationMinutes, 480)

            let morning = try await admin.call(
                AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "12:00", label: "Morning Run"))
            let afternoon = try await admin.call(
                AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "13:00", endTime: "16:00", label: "Afternoon"))
            let morningID = try XCTUnwrap(morning.block?.blockId)
            let afternoonID = try XCTUnwrap(afternoon.block?.blockId)
            _ = try await admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: morningID, serviceCode: "walk", capacity: 5))
            _ = try await admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: afternoonID, serviceCode: "walk", capacity: 3))
            _ = try await admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: afternoonID, serviceCode: "daycare", capacity: 2))

            let copy = try await admin.call(
                AdminMethods.copyDay, CopyDayRequest(fromDate: "2025-10-08", toDate: "2025-10-09"))
            XCTAssertEqual(copy.blocks.count, 2)
            XCTAssertEqual(copy.replacedBlocks, 0)

            for date in ["2025-10-08", "2025-10-09"] {
                let day = try await admin.call(AdminMethods.getDay, GetDayRequest(date: date))
                XCTAssertEqual(day.date, date)
                XCTAssertEqual(day.timeZone, "Europe/London", "the zone its dates and times are local to")
                XCTAssertEqual(day.blocks.map { $0.block?.label }, ["Morning Run", "Afternoon"])
                XCTAssertEqual(day.blocks.map { $0.block?.startTime }, ["09:00", "13:00"])
                XCTAssertEqual(day.blocks[0].capacities.map(\.serviceCode), ["walk"])
                XCTAssertEqual(day.blocks[0].capacities.map(\.remaining), [5])
                XCTAssertEqual(day.blocks[1].capacities.map(\.serviceCode), ["daycare", "walk"])
                XCTAssertEqual(day.blocks[1].capacities.map(\.remaining), [2, 3])

                // ListBlocks-style queries through the domain (Portal/ListBlocks
                // needs a portal session; see ListBlocksOverWireTests).
                let walkBlocks = try await service.store.availableBlocks(
                    on: try LocalDate(date), for: try ServiceCode("walk"))
                XCTAssertEqual(walkBlocks.map(\.block.label.rawValue), ["Morning Run", "Afternoon"])
                XCTAssertEqual(walkBlocks.map(\.remaining), [5, 3])
                let daycareBlocks = try await service.store.availableBlocks(
                    on: try LocalDate(date), for: try ServiceCode("daycare"))
                XCTAssertEqual(daycareBlocks.map(\.block.label.rawValue), ["Afternoon"])
                XCTAssertEqual(daycareBlocks.map(\.remaining), [2])
            }

            let services = try await admin.call(AdminMethods.listServices, ListServicesRequest())
            XCTAssertEqual(services.services.map(\.serviceCode), ["daycare", "walk"])
            let bookings = try await admin.call(AdminMethods.listBookings, ListBookingsRequest(date: "2025-10-08"))
            XCTAssertEqual(bookings.bookings, [])
        }
    }

    func testPortalListBlocksWithASessionShowsRemainingInStartOrder() async throws {
        try await APITestServer.with(sessionVerifier: { token in
            guard token == "session-of-client-1" else {
                throw RPCError(code: .unauthenticated, reason: .invalidCredentials, message: "Invalid credentials.")
            }
            return 1
        }) { service in
            let admin = service.admin
            _ = try await admin.call(
                AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp")))
            let late = try await admin.call(
                AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "13:00", endTime: "16:00", label: "Afternoon"))
            let early = try await admin.call(
                AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "12:00", label: "Morning Run"))
            let unoffered = try await admin.call(
                AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "07:00", endTime: "08:00", label: "Early"))
            _ = try await admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: late.block!.blockId, serviceCode: "walk", capacity: 3))
            _ = try await admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: early.block!.blockId, serviceCode: "walk", capacity: 5))
            XCTAssertNotNil(unoffered.block)

            let portal = service.anonymousClient()
            defer { Task { await portal.close() } }
            let listed = try await portal.call(
                PortalMethods.listBlocks, ListBlocksRequest(date: "2025-10-08", serviceCode: "walk"),
                credentials: .bearer("session-of-client-1"))
            XCTAssertEqual(listed.blocks.map { $0.block?.label }, ["Morning Run", "Afternoon"])
            XCTAssertEqual(listed.blocks.map(\.remaining), [5, 3])
            XCTAssertEqual(listed.blocks.map(\.priceCents), [1500, 1500])
            XCTAssertEqual(listed.blocks.map(\.durationMinutes), [60, 60])
            XCTAssertEqual(listed.timeZone, "Europe/London", "the zone its dates and times are local to")
            // The same answer again, now from memory: the zone is part of it.
            let again = try await portal.call(
                PortalMethods.listBlocks, ListBlocksRequest(date: "2025-10-08", serviceCode: "walk"),
                credentials: .bearer("session-of-client-1"))
            XCTAssertEqual(again, listed)

            let adminOnPortal = await expectRPCError {
                try await admin.call(PortalMethods.listBlocks, ListBlocksRequest(date: "2025-10-08", serviceCode: "walk"))
            }
            XCTAssertEqual(adminOnPortal?.code, .permissionDenied)
            XCTAssertEqual(adminOnPortal?.reason, .wrongCredentialKind)

            let sessionOnAdmin = await expectRPCError {
                try await portal.call(
                    AdminMethods.getDay, GetDayRequest(date: "2025-10-08"),
                    credentials: .bearer("session-of-client-1"))
            }
            XCTAssertEqual(sessionOnAdmin?.code, .permissionDenied)
            XCTAssertEqual(sessionOnAdmin?.reason, .wrongCredentialKind)
        }
    }
}
