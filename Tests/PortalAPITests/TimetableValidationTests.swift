import PortalClient
import PortalDomain
import PortalMessages
import PortalWire
import XCTest

/// Every bad input gets a precise status and reason over the wire, and leaves
/// the data exactly as it was.
final class TimetableValidationTests: XCTestCase {
    /// A day with one block offering walk (capacity 2), a client with a hold in it.
    private struct Fixture {
        let blockID: Int64
        let emptyBlockID: Int64
    }

    private func makeFixture(_ service: APITestServer) async throws -> Fixture {
        let admin = service.admin
        _ = try await admin.call(
            AdminMethods.upsertService,
            UpsertServiceRequest(service: .init(
                serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp")))
        let block = try await admin.call(
            AdminMethods.createBlock,
            CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "12:00", label: "Morning Run"))
        let empty = try await admin.call(
            AdminMethods.createBlock,
            CreateBlockRequest(date: "2025-10-08", startTime: "13:00", endTime: "14:00", label: "Quiet"))
        let blockID = try XCTUnwrap(block.block?.blockId)
        _ = try await admin.call(
            AdminMethods.setCapacity, SetCapacityRequest(blockId: blockID, serviceCode: "walk", capacity: 2))
        let client = try await service.store.createClient(name: "Ada")
        _ = try await service.store.createHold(
            for: client.id, block: BlockID(rawValue: blockID), service: try ServiceCode("walk"))
        return Fixture(blockID: blockID, emptyBlockID: try XCTUnwrap(empty.block?.blockId))
    }

    /// Everything an admin can see, to compare before and after a refusal.
    private func snapshot(_ service: APITestServer) async throws -> [String] {
        var lines: [String] = []
        for date in ["2025-10-08", "2025-10-09"] {
            let day = try await service.admin.call(AdminMethods.getDay, GetDayRequest(date: date))
            lines.append("\(day)")
        }
        lines.append("\(try await service.admin.call(AdminMethods.listServices, ListServicesRequest()))")
        return lines
    }

    private func assertRefused<Request: ProtoMessage, Response: ProtoMessage>(
        _ service: APITestServer,
        _ method: MethodDescriptor<Request, Response>, _ request: Request,
        code: StatusCode, reason: String, field: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let before = try await snapshot(service)
        let error = await expectRPCError({ try await service.admin.call(method, request) }, file: file, line: line)
        XCTAssertEqual(error?.code, code, "\(method.name)", file: file, line: line)
        XCTAssertEqual(error?.reason.rawValue, reason, "\(method.name)", file: file, line: line)
        if let field {
            XCTAssertEqual(error?.details["field"], field, "\(method.name)", file: file, line: line)
        }
        XCTAssertFalse(error?.message.isEmpty ?? true, file: file, line: line)
        let after = try await snapshot(service)
        XCTAssertEqual(before, after, "\(method.name) changed data although it was refused", file: file, line: line)
    }

    func testBadInputsAreRefusedPreciselyAndChangeNothing() async throws {
        try await APITestServer.with { service in
            let fixture = try await makeFixture(service)
            let longLabel = String(repeating: "x", count: 101)

            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "12:00", endTime: "12:00", label: "Noon"),
                code: .invalidArgument, reason: "INVALID_TIME_RANGE", field: "end_time")
            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "14:00", endTime: "13:00", label: "Backwards"),
                code: .invalidArgument, reason: "INVALID_TIME_RANGE", field: "end_time")
            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-02-30", startTime: "09:00", endTime: "10:00", label: "Nope"),
                code: .invalidArgument, reason: "INVALID_DATE", field: "date")
            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "08/10/2025", startTime: "09:00", endTime: "10:00", label: "Nope"),
                code: .invalidArgument, reason: "INVALID_DATE", field: "date")
            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "9am", endTime: "10:00", label: "Nope"),
                code: .invalidArgument, reason: "INVALID_TIME", field: "start_time")
            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "24:30", label: "Nope"),
                code: .invalidArgument, reason: "INVALID_TIME", field: "end_time")
            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "10:00", label: ""),
                code: .invalidArgument, reason: "INVALID_LABEL", field: "label")
            try await assertRefused(
                service, AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "10:00", label: longLabel),
                code: .invalidArgument, reason: "INVALID_LABEL", field: "label")
            try await assertRefused(
                service, AdminMethods.setCapacity,
                SetCapacityRequest(blockId: fixture.blockID, serviceCode: "walk", capacity: -1),
                code: .invalidArgument, reason: "INVALID_CAPACITY", field: "capacity")
            try await assertRefused(
                service, AdminMethods.setCapacity,
                SetCapacityRequest(blockId: fixture.blockID, serviceCode: "swim", capacity: 1),
                code: .notFound, reason: "UNKNOWN_SERVICE", field: "service_code")
            try await assertRefused(
                service, AdminMethods.setCapacity,
                SetCapacityRequest(blockId: 999_999, serviceCode: "walk", capacity: 1),
                code: .notFound, reason: "BLOCK_NOT_FOUND")
            try await assertRefused(
                service, AdminMethods.setCapacity,
                SetCapacityRequest(blockId: fixture.blockID, serviceCode: "Walk!", capacity: 1),
                code: .invalidArgument, reason: "INVALID_SERVICE_CODE", field: "service_code")
            try await assertRefused(
                service, AdminMethods.updateBlock,
                UpdateBlockRequest(blockId: 999_999, label: "Renamed"),
                code: .notFound, reason: "BLOCK_NOT_FOUND")
            try await assertRefused(
                service, AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "walk", durationMinutes: 0, priceCents: 1500, currency: "gbp")),
                code: .invalidArgument, reason: "INVALID_DURATION", field: "duration_minutes")
            try await assertRefused(
                service, AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "GBP")),
                code: .invalidArgument, reason: "INVALID_CURRENCY", field: "currency")
            // Every field of the nested service is named by its own proto name.
            try await assertRefused(
                service, AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "Walk!", durationMinutes: 60, priceCents: 1500, currency: "gbp")),
                code: .invalidArgument, reason: "INVALID_SERVICE_CODE", field: "service_code")
            try await assertRefused(
                service, AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "walk", durationMinutes: 60, priceCents: -1, currency: "gbp")),
                code: .invalidArgument, reason: "INVALID_PRICE", field: "price_cents")
            try await assertRefused(
                service, AdminMethods.upsertService,
                UpsertServiceRequest(service: .init(
                    serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp",
                    notes: String(repeating: "n", count: 1001))),
                code: .invalidArgument, reason: "INVALID_NOTES", field: "notes")

            // Refusals that protect bookings and active holds.
            try await assertRefused(
                service, AdminMethods.deleteBlock, DeleteBlockRequest(blockId: fixture.blockID),
                code: .failedPrecondition, reason: "BLOCK_IN_USE")
            try await assertRefused(
                service, AdminMethods.updateBlock,
                UpdateBlockRequest(blockId: fixture.blockID, startTime: "10:00"),
                code: .failedPrecondition, reason: "BLOCK_IN_USE")
            try await assertRefused(
                service, AdminMethods.removeCapacity,
                RemoveCapacityRequest(blockId: fixture.blockID, serviceCode: "walk"),
                code: .failedPrecondition, reason: "CAPACITY_IN_USE")
            _ = try await service.admin.call(
                AdminMethods.copyDay, CopyDayRequest(fromDate: "2025-10-08", toDate: "2025-10-09"))
            try await assertRefused(
                service, AdminMethods.copyDay, CopyDayRequest(fromDate: "2025-10-09", toDate: "2025-10-08"),
                code: .failedPrecondition, reason: "DAY_NOT_EMPTY")
            try await assertRefused(
                service, AdminMethods.copyDay,
                CopyDayRequest(fromDate: "2025-10-09", toDate: "2025-10-08", replace: true),
                code: .failedPrecondition, reason: "BLOCK_IN_USE")
            try await assertRefused(
                service, AdminMethods.copyDay, CopyDayRequest(fromDate: "2025-10-08", toDate: "2025-10-08"),
                code: .invalidArgument, reason: "SAME_DAY")

            // The label of a block in use can still change; the empty block can go.
            let renamed = try await service.admin.call(
                AdminMethods.updateBlock, UpdateBlockRequest(blockId: fixture.blockID, label: "Morning Walk"))
            XCTAssertEqual(renamed.block?.label, "Morning Walk")
            XCTAssertEqual(renamed.block?.startTime, "09:00")
            _ = try await service.admin.call(AdminMethods.deleteBlock, DeleteBlockRequest(blockId: fixture.emptyBlockID))
            let day = try await service.admin.call(AdminMethods.getDay, GetDayRequest(date: "2025-10-08"))
            XCTAssertEqual(day.blocks.map { $0.block?.label }, ["Morning Walk"])
            XCTAssertEqual(day.blocks.first?.capacities.first?.held, 1)
            XCTAssertEqual(day.blocks.first?.capacities.first?.remaining, 1)
        }
    }

    func testAdminMethodsNeedTheAdminKey() async throws {
        try await APITestServer.with { service in
            let anonymous = service.anonymousClient()
            defer { Task { await anonymous.close() } }
            let missing = await expectRPCError {
                try await anonymous.call(AdminMethods.getDay, GetDayRequest(date: "2025-10-08"))
            }
            XCTAssertEqual(missing?.code, .unauthenticated)
            XCTAssertEqual(missing?.reason, .missingCredentials)

            let wrong = await expectRPCError {
                try await anonymous.call(
                    AdminMethods.createBlock,
                    CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "10:00", label: "X"),
                    credentials: .bearer(APITestServer.adminKey + "x"))
            }
            XCTAssertEqual(wrong?.code, .unauthenticated)
            XCTAssertEqual(wrong?.reason, .invalidCredentials)
            XCTAssertFalse(wrong?.message.contains(APITestServer.adminKey) ?? true)

            // An authorization entry that is not `Bearer <token>` is wrong
            // credentials, not missing ones.
            for malformed in ["bearer " + APITestServer.adminKey, APITestServer.adminKey, "Basic abc"] {
                let refused = await expectRPCError {
                    try await anonymous.call(
                        AdminMethods.getDay, GetDayRequest(date: "2025-10-08"), metadata: ["authorization": malformed])
                }
                XCTAssertEqual(refused?.code, .unauthenticated)
                XCTAssertEqual(refused?.reason, .invalidCredentials, malformed.prefix(6) + "…")
            }

            let day = try await service.admin.call(AdminMethods.getDay, GetDayRequest(date: "2025-10-08"))
            XCTAssertEqual(day.blocks, [], "a refused CreateBlock wrote nothing")
        }
    }

    func testLoweringCapacityBelowWhatIsHeldKeepsTheHoldsAndShowsZeroRemaining() async throws {
        try await APITestServer.with { service in
            let fixture = try await makeFixture(service)
            let lowered = try await service.admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: fixture.blockID, serviceCode: "walk", capacity: 0))
            XCTAssertEqual(lowered.capacity?.capacity, 0)
            XCTAssertEqual(lowered.capacity?.held, 1)
            XCTAssertEqual(lowered.capacity?.remaining, 0)
        }
    }

    func testExpiredHoldsStopCountingWhenTheClockPassesTheirExpiry() async throws {
        try await APITestServer.with { service in
            let fixture = try await makeFixture(service)
            service.clock.advance(bySeconds: 601)
            let day = try await service.admin.call(AdminMethods.getDay, GetDayRequest(date: "2025-10-08"))
            let walk = try XCTUnwrap(day.blocks.first { $0.block?.blockId == fixture.blockID }?.capacities.first)
            XCTAssertEqual(walk.held, 0)
            XCTAssertEqual(walk.remaining, 2)
            _ = try await service.admin.call(AdminMethods.deleteBlock, DeleteBlockRequest(blockId: fixture.blockID))
        }
    }
}
