import PortalDomain
import PortalStore
import XCTest

/// Staff's timetable: blocks, capacities, the day view and copying days.
final class TimetableTests: XCTestCase {
    private var fixture: StoreFixture!
    private var store: PortalStore { fixture.store }

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
        try await fixture.service("walk", minutes: 60, price: 1500)
        try await fixture.service("daycare", minutes: 480, price: 4000)
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    func testServicesUpsertAndList() async throws {
        let created = try await store.upsertService(
            ServiceDefaults(code: ServiceCode("grooming"), durationMinutes: 90, priceCents: 3000, currency: "gbp", notes: "Bath"))
        XCTAssertTrue(created.created)
        let updated = try await store.upsertService(
            ServiceDefaults(code: ServiceCode("grooming"), durationMinutes: 120, priceCents: 3500, currency: "gbp"))
        XCTAssertFalse(updated.created)
        let services = try await store.listServices()
        XCTAssertEqual(services.map(\.code.rawValue), ["daycare", "grooming", "walk"])
        XCTAssertEqual(services[1].durationMinutes, 120)
        XCTAssertEqual(services[1].notes, "")
        let duration = try await store.defaultDuration(of: ServiceCode("daycare"))
        XCTAssertEqual(duration, 480)
        await assertPortalError(.notFound, .unknownService) { try await self.store.defaultDuration(of: ServiceCode("swim")) }
    }

    func testDayViewOrdersBlocksByStartThenIdAndServicesByCode() async throws {
        let late = try await fixture.block("2025-10-08", "13:00", "16:00", "Afternoon")
        let early = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let sameStart = try await fixture.block("2025-10-08", "13:00", "14:00", "Short")
        _ = try await fixture.block("2025-10-09", "09:00", "12:00", "Other day")
        try await fixture.capacity(late, "walk", 3)
        try await fixture.capacity(late, "daycare", 2)
        try await fixture.capacity(early, "walk", 5)
        _ = try await fixture.hold(try await fixture.client(), late, "daycare")

        let day = try await store.day(try LocalDate("2025-10-08"))
        XCTAssertEqual(day.map(\.block.id), [early.id, late.id, sameStart.id])
        XCTAssertEqual(day[1].capacities.map(\.service.rawValue), ["daycare", "walk"])
        let daycare = day[1].capacities[0]
        XCTAssertEqual([daycare.capacity, daycare.booked, daycare.held, daycare.remaining], [2, 0, 1, 1])
        XCTAssertEqual(day[2].capacities, [])
        let empty = try await store.day(try LocalDate("2025-10-10"))
        XCTAssertEqual(empty, [])
    }

    func testUpdateBlockChangesLabelAlwaysAndTimesOnlyWhenUnused() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 5)
        let moved = try await store.updateBlock(block.id, start: try TimeOfDay("08:30"))
        XCTAssertEqual(moved.startTime.description, "08:30")
        XCTAssertEqual(moved.endTime.description, "12:00")

        let client = try await fixture.client()
        let booking = try await store.insertConfirmedBookingForTesting(
            for: client, block: block.id, service: try ServiceCode("walk"), paymentIntentID: "pi_1")
        XCTAssertEqual(booking.blockLabel, "Morning Run")
        XCTAssertEqual(booking.startTime.description, "08:30")
        XCTAssertEqual(booking.endTime.description, "09:30")

        let before = try fixture.snapshot()
        await assertPortalError(.failedPrecondition, .blockInUse) {
            try await self.store.updateBlock(block.id, end: try TimeOfDay("11:00"))
        }
        XCTAssertEqual(try fixture.snapshot(), before)

        // Same times as now is no change, so it is allowed; the label can change.
        let renamed = try await store.updateBlock(
            block.id, start: try TimeOfDay("08:30"), label: try BlockLabel("Early Run"))
        XCTAssertEqual(renamed.label.rawValue, "Early Run")
        // The booking keeps the label it was made under.
        let bookings = try await store.bookings(on: try LocalDate("2025-10-08"))
        XCTAssertEqual(bookings.map(\.blockLabel), ["Morning Run"])
        XCTAssertEqual(bookings.map(\.id), [booking.id])
    }

    func testUpdateBlockRefusesAnInvertedRangeAfterMerging() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let before = try fixture.snapshot()
        await assertPortalError(.invalidArgument, .invalidTimeRange, field: "start_time") {
            try await self.store.updateBlock(block.id, start: try TimeOfDay("12:30"))
        }
        await assertPortalError(.invalidArgument, .invalidTimeRange, field: "end_time") {
            try await self.store.updateBlock(block.id, end: try TimeOfDay("08:00"))
        }
        await assertPortalError(.invalidArgument, .invalidTimeRange, field: "end_time") {
            try await self.store.updateBlock(block.id, start: try TimeOfDay("10:00"), end: try TimeOfDay("10:00"))
        }
        await assertPortalError(.notFound, .blockNotFound) {
            try await self.store.updateBlock(BlockID(rawValue: 999), label: try BlockLabel("x"))
        }
        XCTAssertEqual(try fixture.snapshot(), before)
    }

    func testDeleteBlockIsRefusedWithBookingsOrActiveHolds() async throws {
        let booked = try await fixture.block("2025-10-08", "09:00", "12:00", "Booked")
        let held = try await fixture.block("2025-10-08", "13:00", "16:00", "Held")
        let free = try await fixture.block("2025-10-08", "17:00", "18:00", "Free")
        for block in [booked, held, free] { try await fixture.capacity(block, "walk", 5) }
        _ = try await store.insertConfirmedBookingForTesting(
            for: try await fixture.client("A"), block: booked.id, service: try ServiceCode("walk"),
            paymentIntentID: "pi_a")
        _ = try await fixture.hold(try await fixture.client("B"), held, "walk")

        let before = try fixture.snapshot()
        await assertPortalError(.failedPrecondition, .blockInUse) { try await self.store.deleteBlock(booked.id) }
        await assertPortalError(.failedPrecondition, .blockInUse) { try await self.store.deleteBlock(held.id) }
        XCTAssertEqual(try fixture.snapshot(), before)

        try await store.deleteBlock(free.id)
        await assertPortalError(.notFound, .blockNotFound) { try await self.store.block(free.id) }
        await assertPortalError(.notFound, .blockNotFound) { try await self.store.deleteBlock(free.id) }

        // Once the hold has expired, the block can go — before any purge.
        fixture.clock.advance(bySeconds: 600)
        try await store.deleteBlock(held.id)
        let day = try await store.day(try LocalDate("2025-10-08"))
        XCTAssertEqual(day.map(\.block.label.rawValue), ["Booked"])
        XCTAssertEqual(try fixture.auditCount(event: "hold.expired"), 1)
    }

    func testRemoveCapacityIsRefusedWhileThatServiceIsInUse() async throws {
        let block = try await fixture.block("2025-10-08", "13:00", "16:00", "Afternoon")
        try await fixture.capacity(block, "walk", 3)
        try await fixture.capacity(block, "daycare", 2)
        _ = try await fixture.hold(try await fixture.client(), block, "walk")

        let before = try fixture.snapshot()
        await assertPortalError(.failedPrecondition, .capacityInUse) {
            try await self.store.removeCapacity(of: ServiceCode("walk"), from: block.id)
        }
        XCTAssertEqual(try fixture.snapshot(), before)

        try await store.removeCapacity(of: ServiceCode("daycare"), from: block.id)
        await assertPortalError(.notFound, .capacityNotFound) {
            try await self.store.removeCapacity(of: ServiceCode("daycare"), from: block.id)
        }
        await assertPortalError(.failedPrecondition, .serviceNotOffered) {
            try await self.fixture.usage(block, "daycare")
        }
        let listed = try await store.availableBlocks(on: try LocalDate("2025-10-08"), for: try ServiceCode("daycare"))
        XCTAssertEqual(listed, [])
    }

    func testCopyDayCopiesBlocksAndCapacitiesButNotBookingsOrHolds() async throws {
        let morning = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let afternoon = try await fixture.block("2025-10-08", "13:00", "16:00", "Afternoon")
        try await fixture.capacity(morning, "walk", 5, allowOverlap: true)
        try await fixture.capacity(afternoon, "walk", 3)
        try await fixture.capacity(afternoon, "daycare", 2)
        _ = try await fixture.hold(try await fixture.client(), morning, "walk")
        _ = try await store.insertConfirmedBookingForTesting(
            for: try await fixture.client(), block: afternoon.id, service: try ServiceCode("walk"),
            paymentIntentID: "pi_1")

        let copy = try await store.copyDay(
            from: try LocalDate("2025-10-08"), to: try LocalDate("2025-10-09"), replace: false)
        XCTAssertEqual(copy.replacedBlocks, 0)
        XCTAssertEqual(copy.blocks.map(\.block.label.rawValue), ["Morning Run", "Afternoon"])
        XCTAssertTrue(copy.blocks.allSatisfy { $0.block.date.description == "2025-10-09" })
        XCTAssertFalse(copy.blocks.contains { [morning.id, afternoon.id].contains($0.block.id) })
        XCTAssertEqual(copy.blocks[1].capacities.map(\.service.rawValue), ["daycare", "walk"])
        XCTAssertEqual(copy.blocks.flatMap(\.capacities).map(\.remaining), [5, 2, 3])
        XCTAssertEqual(copy.blocks[0].capacities[0].allowOverlap, true)

        let target = try await store.day(try LocalDate("2025-10-09"))
        XCTAssertEqual(target, copy.blocks)
        let bookings = try await store.bookings(on: try LocalDate("2025-10-09"))
        XCTAssertEqual(bookings, [])
    }

    func testCopyDayRefusals() async throws {
        let source = try LocalDate("2025-10-08")
        let target = try LocalDate("2025-10-09")
        let morning = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(morning, "walk", 5)
        let existing = try await fixture.block("2025-10-09", "10:00", "11:00", "Existing")
        let existingToo = try await fixture.block("2025-10-09", "14:00", "15:00", "Existing too")
        try await fixture.capacity(existing, "walk", 1)
        try await fixture.capacity(existingToo, "walk", 1)

        let before = try fixture.snapshot()
        await assertPortalError(.invalidArgument, .sameDay, field: "to_date") {
            try await self.store.copyDay(from: source, to: source, replace: true)
        }
        await assertPortalError(.failedPrecondition, .sourceDayEmpty) {
            try await self.store.copyDay(from: try LocalDate("2025-10-07"), to: target, replace: true)
        }
        await assertPortalError(.failedPrecondition, .dayNotEmpty) {
            try await self.store.copyDay(from: source, to: target, replace: false)
        }
        XCTAssertEqual(try fixture.snapshot(), before)

        // One target block in use: replace changes nothing at all.
        _ = try await fixture.hold(try await fixture.client(), existingToo, "walk")
        let withHold = try fixture.snapshot()
        await assertPortalError(.failedPrecondition, .blockInUse) {
            try await self.store.copyDay(from: source, to: target, replace: true)
        }
        XCTAssertEqual(try fixture.snapshot(), withHold)

        // When the hold has expired, replacing works and says how many it replaced.
        fixture.clock.advance(bySeconds: 601)
        let copy = try await store.copyDay(from: source, to: target, replace: true)
        XCTAssertEqual(copy.replacedBlocks, 2)
        let day = try await store.day(target)
        XCTAssertEqual(day.map(\.block.label.rawValue), ["Morning Run"])
    }

    func testCopyYesterdayIsTheDayBefore() async throws {
        let today = try LocalDate("2025-03-01")
        _ = try await fixture.block("2025-02-28", "09:00", "10:00", "Last of February")
        let copy = try await store.copyDay(from: today.previousDay, to: today, replace: false)
        XCTAssertEqual(copy.blocks.map(\.block.date), [today])
    }
}
