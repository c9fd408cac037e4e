import PortalDomain
import PortalStore
import XCTest

/// Every bad input gets a precise kind, reason and field, and leaves the
/// database exactly as it was (audit log included).
final class ValidationTests: XCTestCase {
    private var fixture: StoreFixture!
    private var store: PortalStore { fixture.store }
    private var block: TimetableBlock!
    private var client: ClientID!

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
        try await fixture.service("walk", minutes: 60)
        try await fixture.service("daycare", minutes: 480)
        block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 5)
        client = try await fixture.client()
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    /// Runs `body` and asserts the error and that nothing was written.
    private func assertRefused<T>(
        _ kind: PortalError.Kind, _ reason: PortalError.Reason, field: String? = nil,
        file: StaticString = #filePath, line: UInt = #line, _ body: @escaping () async throws -> T
    ) async throws {
        let before = try fixture.snapshot()
        await assertPortalError(kind, reason, field: field, file: file, line: line, body)
        XCTAssertEqual(try fixture.snapshot(), before, "the database changed", file: file, line: line)
    }

    /// CreateBlock as the wire layer will call it: parse, then store.
    private func createBlock(_ date: String, _ start: String, _ end: String, _ label: String) async throws
        -> TimetableBlock
    {
        try await store.createBlock(
            on: LocalDate(date), times: BlockTimes(start: start, end: end), label: BlockLabel(label))
    }

    func testCreateBlockRefusals() async throws {
        try await assertRefused(.invalidArgument, .invalidDate, field: "date") {
            try await self.createBlock("2025-02-29", "09:00", "10:00", "x")
        }
        try await assertRefused(.invalidArgument, .invalidDate, field: "date") {
            try await self.createBlock("08/10/2025", "09:00", "10:00", "x")
        }
        try await assertRefused(.invalidArgument, .invalidTime, field: "start_time") {
            try await self.createBlock("2025-10-08", "9am", "10:00", "x")
        }
        try await assertRefused(.invalidArgument, .invalidTime, field: "end_time") {
            try await self.createBlock("2025-10-08", "09:00", "24:00", "x")
        }
        try await assertRefused(.invalidArgument, .invalidTimeRange, field: "end_time") {
            try await self.createBlock("2025-10-08", "10:00", "10:00", "x")
        }
        try await assertRefused(.invalidArgument, .invalidTimeRange, field: "end_time") {
            try await self.createBlock("2025-10-08", "11:00", "10:00", "x")
        }
        try await assertRefused(.invalidArgument, .invalidLabel, field: "label") {
            try await self.createBlock("2025-10-08", "09:00", "10:00", "")
        }
        try await assertRefused(.invalidArgument, .invalidLabel, field: "label") {
            try await self.createBlock("2025-10-08", "09:00", "10:00", String(repeating: "x", count: 101))
        }
        try await assertRefused(.invalidArgument, .invalidLabel, field: "label") {
            try await self.store.createBlock(
                on: LocalDate("2025-10-08"), times: BlockTimes(start: "09:00", end: "10:00"),
                label: BlockLabel(utf8: [0x66, 0x80, 0x66]))
        }
    }

    func testCapacityRefusals() async throws {
        try await assertRefused(.invalidArgument, .invalidCapacity, field: "capacity") {
            try await self.store.setCapacity(
                BlockCapacity(block: self.block.id, service: ServiceCode("walk"), capacity: -1, allowOverlap: false))
        }
        try await assertRefused(.invalidArgument, .invalidCapacity, field: "capacity") {
            try await self.store.setCapacity(
                BlockCapacity(block: self.block.id, service: ServiceCode("walk"), capacity: 10_001, allowOverlap: false))
        }
        try await assertRefused(.invalidArgument, .invalidServiceCode, field: "service_code") {
            try await self.store.setCapacity(
                BlockCapacity(block: self.block.id, service: ServiceCode("Walk!"), capacity: 1, allowOverlap: false))
        }
        try await assertRefused(.notFound, .unknownService) {
            try await self.store.setCapacity(
                BlockCapacity(block: self.block.id, service: ServiceCode("swim"), capacity: 1, allowOverlap: false))
        }
        try await assertRefused(.notFound, .blockNotFound) {
            try await self.store.setCapacity(
                BlockCapacity(block: BlockID(rawValue: 404), service: ServiceCode("walk"), capacity: 1, allowOverlap: false))
        }
        try await assertRefused(.invalidArgument, .invalidID, field: "block_id") {
            try await self.store.deleteBlock(BlockID(validating: 0))
        }
        try await assertRefused(.notFound, .blockNotFound) {
            try await self.store.deleteBlock(BlockID(rawValue: 404))
        }
        try await assertRefused(.notFound, .unknownService) {
            try await self.store.removeCapacity(of: ServiceCode("swim"), from: self.block.id)
        }
        try await assertRefused(.notFound, .capacityNotFound) {
            try await self.store.removeCapacity(of: ServiceCode("daycare"), from: self.block.id)
        }
    }

    func testServiceRefusals() async throws {
        try await assertRefused(.invalidArgument, .invalidDuration, field: "duration_minutes") {
            try await self.store.upsertService(
                ServiceDefaults(code: ServiceCode("walk"), durationMinutes: 0, priceCents: 1, currency: "gbp"))
        }
        try await assertRefused(.invalidArgument, .invalidCurrency, field: "currency") {
            try await self.store.upsertService(
                ServiceDefaults(code: ServiceCode("walk"), durationMinutes: 60, priceCents: 1, currency: "GBP"))
        }
        try await assertRefused(.invalidArgument, .invalidPrice, field: "price_cents") {
            try await self.store.upsertService(
                ServiceDefaults(code: ServiceCode("walk"), durationMinutes: 60, priceCents: -5, currency: "gbp"))
        }
    }

    func testHoldRefusals() async throws {
        let daycareBlock = try await fixture.block("2025-10-08", "13:00", "16:00", "Afternoon")
        try await assertRefused(.notFound, .blockNotFound) {
            try await self.store.createHold(for: self.client, block: BlockID(rawValue: 404), service: ServiceCode("walk"))
        }
        try await assertRefused(.notFound, .unknownService) {
            try await self.store.createHold(for: self.client, block: self.block.id, service: ServiceCode("swim"))
        }
        try await assertRefused(.notFound, .clientNotFound) {
            try await self.store.createHold(for: ClientID(rawValue: 404), block: self.block.id, service: ServiceCode("walk"))
        }
        try await assertRefused(.failedPrecondition, .serviceNotOffered) {
            try await self.store.createHold(for: self.client, block: daycareBlock.id, service: ServiceCode("walk"))
        }
        // With more than one missing, the first check's refusal (one read answers them all).
        try await assertRefused(.notFound, .blockNotFound) {
            try await self.store.createHold(
                for: ClientID(rawValue: 404), block: BlockID(rawValue: 404), service: ServiceCode("swim"))
        }
        try await assertRefused(.notFound, .unknownService) {
            try await self.store.createHold(for: ClientID(rawValue: 404), block: daycareBlock.id, service: ServiceCode("swim"))
        }
        try await assertRefused(.notFound, .clientNotFound) {
            try await self.store.createHold(for: ClientID(rawValue: 404), block: daycareBlock.id, service: ServiceCode("walk"))
        }
        try await assertRefused(.invalidArgument, .invalidHoldToken, field: "hold_token") {
            try await self.store.hold(HoldToken("not-a-token"))
        }
        try await assertRefused(.notFound, .holdNotFound) {
            try await self.store.hold(HoldToken.generate())
        }
    }

    func testQueryRefusals() async throws {
        try await assertRefused(.notFound, .unknownService) {
            try await self.store.availableBlocks(on: LocalDate("2025-10-08"), for: ServiceCode("swim"))
        }
        try await assertRefused(.invalidArgument, .invalidDate, field: "date") {
            try await self.store.day(LocalDate("2025-10-32"))
        }
        try await assertRefused(.failedPrecondition, .serviceNotOffered) {
            try await self.store.remainingCapacity(of: self.block.id, for: ServiceCode("daycare"))
        }
        try await assertRefused(.notFound, .clientNotFound) {
            try await self.store.client(ClientID(rawValue: 404))
        }
        try await assertRefused(.invalidArgument, .invalidName, field: "name") {
            try await self.store.createClient(name: " ")
        }
    }

    func testAnotherClientsHoldIsNotFound() async throws {
        let hold = try await fixture.hold(client, block, "walk").hold
        let other = try await fixture.client("Other")
        let own = try await store.hold(hold.token, of: client)
        XCTAssertEqual(own.token, hold.token)
        try await assertRefused(.notFound, .holdNotFound) { try await self.store.hold(hold.token, of: other) }
    }
}
