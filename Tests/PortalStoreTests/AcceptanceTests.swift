import PortalDomain
import PortalStore
import XCTest

/// The acceptance walk-through, through the domain API the wire
/// layer will call 1:1.
final class AcceptanceTests: XCTestCase {
    func testSeedExampleCopyDayAndListBlocks() async throws {
        // The clock stands before both dates.
        let fixture = try await StoreFixture.make(now: Instant(unixSeconds: 1_759_320_000))  // 2025-10-01
        let store = fixture.store
        addTeardownBlock { await fixture.tearDown() }

        // UpsertService: walk = 60 min, daycare = 480 min.
        _ = try await store.upsertService(
            ServiceDefaults(code: ServiceCode("walk"), durationMinutes: 60, priceCents: 1500, currency: "gbp"))
        _ = try await store.upsertService(
            ServiceDefaults(code: ServiceCode("daycare"), durationMinutes: 480, priceCents: 4000, currency: "gbp"))

        // 2025-10-08: Morning Run 09:00–12:00 walk = 5; Afternoon 13:00–16:00 walk = 3, daycare = 2.
        let date = try LocalDate("2025-10-08")
        let morning = try await store.createBlock(
            on: date, times: BlockTimes(start: "09:00", end: "12:00"), label: BlockLabel("Morning Run"))
        let afternoon = try await store.createBlock(
            on: date, times: BlockTimes(start: "13:00", end: "16:00"), label: BlockLabel("Afternoon"))
        let walk = try ServiceCode("walk")
        let daycare = try ServiceCode("daycare")
        _ = try await store.setCapacity(BlockCapacity(block: morning.id, service: walk, capacity: 5, allowOverlap: false))
        _ = try await store.setCapacity(BlockCapacity(block: afternoon.id, service: walk, capacity: 3, allowOverlap: false))
        _ = try await store.setCapacity(BlockCapacity(block: afternoon.id, service: daycare, capacity: 2, allowOverlap: false))

        // CopyDay to 2025-10-09 ("copy yesterday" seen from the 9th).
        let next = try LocalDate("2025-10-09")
        let copy = try await store.copyDay(from: next.previousDay, to: next, replace: false)
        XCTAssertEqual(copy.replacedBlocks, 0)
        XCTAssertEqual(copy.blocks.count, 2)

        // GetDay shows the same timetable on both days.
        for day in [date, next] {
            let view = try await store.day(day)
            XCTAssertEqual(view.map(\.block.label.rawValue), ["Morning Run", "Afternoon"])
            XCTAssertEqual(view.map { "\($0.block.startTime)-\($0.block.endTime)" }, ["09:00-12:00", "13:00-16:00"])
            XCTAssertEqual(
                view.map { $0.capacities.map { "\($0.service)=\($0.capacity)/\($0.booked)/\($0.held)/\($0.remaining)" } },
                [["walk=5/0/0/5"], ["daycare=2/0/0/2", "walk=3/0/0/3"]])
        }

        // ListBlocks(walk): Morning Run 5, Afternoon 3; ListBlocks(daycare): only Afternoon.
        for day in [date, next] {
            let walks = try await store.availableBlocks(on: day, for: walk)
            XCTAssertEqual(walks.map(\.block.label.rawValue), ["Morning Run", "Afternoon"])
            XCTAssertEqual(walks.map(\.remaining), [5, 3])
            XCTAssertEqual(walks.map(\.durationMinutes), [60, 60])
            XCTAssertEqual(walks.map(\.priceCents), [1500, 1500])
            XCTAssertEqual(walks.map(\.currency), ["gbp", "gbp"])
            let daycares = try await store.availableBlocks(on: day, for: daycare)
            XCTAssertEqual(daycares.map(\.block.label.rawValue), ["Afternoon"])
            XCTAssertEqual(daycares.map(\.remaining), [2])
            XCTAssertEqual(daycares.map(\.durationMinutes), [480])
        }
        let listedBookings = try await store.bookings(on: date)
        XCTAssertEqual(listedBookings, [])
    }
}

/// "Now" and "has the block started" in the business's time zone, across
/// Europe/London's clock changes.
final class DaylightSavingTests: XCTestCase {
    private func utc(_ date: String, _ time: String) throws -> Instant {
        Instant(
            unixSeconds: Int64(try LocalDate(date).daysSince1970) * 86_400
                + Int64(try TimeOfDay(time).minutesSinceMidnight) * 60)
    }

    func testBlockAt0130OnTheDayClocksGoBackStartsAtItsFirstOccurrence() async throws {
        // 2025-10-26 01:30 London happens at 00:30 UTC (BST) and again at 01:30 UTC (GMT).
        let fixture = try await StoreFixture.make(now: try utc("2025-10-26", "00:29"))
        addTeardownBlock { await fixture.tearDown() }
        try await fixture.service("walk", minutes: 60)
        let block = try await fixture.block("2025-10-26", "01:30", "03:00", "Night walk")
        try await fixture.capacity(block, "walk", 5)

        XCTAssertEqual(fixture.calendar.instant(of: block.date, at: block.startTime), try utc("2025-10-26", "00:30"))
        let first = try await fixture.hold(try await fixture.client("A"), block, "walk")
        XCTAssertTrue(first.isNew)
        fixture.clock.set(to: try utc("2025-10-26", "00:30"))
        await assertPortalError(.failedPrecondition, .blockStarted) {
            try await fixture.hold(try await fixture.client("B"), block, "walk")
        }
        // An hour later the wall clock reads 01:30 again: still started.
        fixture.clock.set(to: try utc("2025-10-26", "01:29"))
        await assertPortalError(.failedPrecondition, .blockStarted) {
            try await fixture.hold(try await fixture.client("C"), block, "walk")
        }
        XCTAssertEqual(fixture.calendar.today(at: fixture.clock.now), try LocalDate("2025-10-26"))
    }

    func testBlockAt0130OnTheDayClocksGoForward() async throws {
        // 2025-03-30: 01:00 GMT jumps to 02:00 BST. 01:30 does not exist on
        // the wall clock; it is read as 02:30 BST (= 01:30 UTC).
        let fixture = try await StoreFixture.make(now: try utc("2025-03-30", "00:59"))
        addTeardownBlock { await fixture.tearDown() }
        try await fixture.service("walk", minutes: 60)
        let block = try await fixture.block("2025-03-30", "01:30", "03:00", "Night walk")
        let morning = try await fixture.block("2025-03-30", "09:00", "10:00", "Morning")
        try await fixture.capacity(block, "walk", 5)
        try await fixture.capacity(morning, "walk", 5)

        XCTAssertEqual(fixture.calendar.instant(of: block.date, at: block.startTime), try utc("2025-03-30", "01:30"))
        // 09:00 BST is 08:00 UTC on the day of the change.
        XCTAssertEqual(fixture.calendar.instant(of: morning.date, at: morning.startTime), try utc("2025-03-30", "08:00"))

        fixture.clock.set(to: try utc("2025-03-30", "01:29"))
        let beforeStart = try await fixture.hold(try await fixture.client("A"), block, "walk").isNew
        XCTAssertTrue(beforeStart)
        fixture.clock.set(to: try utc("2025-03-30", "01:30"))
        await assertPortalError(.failedPrecondition, .blockStarted) {
            try await fixture.hold(try await fixture.client("B"), block, "walk")
        }
        fixture.clock.set(to: try utc("2025-03-30", "07:59"))
        let beforeMorning = try await fixture.hold(try await fixture.client("C"), morning, "walk").isNew
        XCTAssertTrue(beforeMorning)
        fixture.clock.set(to: try utc("2025-03-30", "08:00"))
        await assertPortalError(.failedPrecondition, .blockStarted) {
            try await fixture.hold(try await fixture.client("D"), morning, "walk")
        }
    }
}
