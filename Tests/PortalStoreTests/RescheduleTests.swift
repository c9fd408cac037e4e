import PortalDomain
import PortalStore
import XCTest

/// RescheduleBooking in the store: permission, ownership, the new block's
/// rules, the capacity invariant on both blocks, payment kept, audit.
final class RescheduleTests: XCTestCase {
    private var fixture: StoreFixture!
    private var store: PortalStore { fixture.store }
    private var morning: TimetableBlock!
    private var afternoon: TimetableBlock!
    private var client: ClientID!

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
        try await fixture.service("walk", minutes: 60)
        try await fixture.service("daycare", minutes: 480)
        morning = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        afternoon = try await fixture.block("2025-10-09", "14:00", "17:00", "Afternoon Stroll")
        try await fixture.capacity(morning, "walk", 3)
        try await fixture.capacity(afternoon, "walk", 2)
        client = try await fixture.client("Mover")
        _ = try await store.setCanSelfReschedule(true, for: ClientIDList([client]))
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    private func book(_ client: ClientID, _ block: TimetableBlock, _ code: String = "walk") async throws -> Booking {
        try await store.insertConfirmedBookingForTesting(
            for: client, block: block.id, service: ServiceCode(code), paymentIntentID: "pi_\(UUID().uuidString)")
    }

    private func assertRefused<T>(
        _ kind: PortalError.Kind, _ reason: PortalError.Reason, field: String? = nil,
        file: StaticString = #filePath, line: UInt = #line, _ body: @escaping () async throws -> T
    ) async throws {
        let before = try fixture.snapshot()
        await assertPortalError(kind, reason, field: field, file: file, line: line, body)
        XCTAssertEqual(try fixture.snapshot(), before, "the database changed", file: file, line: line)
    }

    func testMovesTheBookingKeepingItsPaymentAndCopyingTheNewLabel() async throws {
        let booking = try await book(client, morning)
        fixture.clock.advance(bySeconds: 120)

        let moved = try await store.rescheduleBooking(booking.id, to: afternoon.id, for: client)
        XCTAssertEqual(moved.id, booking.id)
        XCTAssertEqual(moved.block, afternoon.id)
        XCTAssertEqual(moved.date, try LocalDate("2025-10-09"))
        XCTAssertEqual(moved.startTime, try TimeOfDay("14:00"))
        XCTAssertEqual(moved.endTime, try TimeOfDay("15:00"))
        XCTAssertEqual(moved.blockLabel, "Afternoon Stroll")
        XCTAssertEqual(moved.amountCents, booking.amountCents)
        XCTAssertEqual(moved.currency, booking.currency)
        XCTAssertEqual(moved.paymentIntentID, booking.paymentIntentID)
        XCTAssertEqual(moved.paymentState, booking.paymentState)
        XCTAssertEqual(moved.status, .confirmed)
        XCTAssertEqual(moved.createdAt, booking.createdAt)

        // What the store now says matches what it returned.
        let mine = try await store.bookings(of: client)
        XCTAssertEqual(mine, [moved])
        let actual1 = try await store.bookings(on: LocalDate("2025-10-08"))
        XCTAssertEqual(actual1, [])
        // Both blocks' counts follow the booking.
        let actual2 = try await fixture.usage(morning, "walk").booked
        XCTAssertEqual(actual2, 0)
        let actual3 = try await fixture.usage(afternoon, "walk").booked
        XCTAssertEqual(actual3, 1)
        // The audit entry records where from and where to.
        XCTAssertEqual(try fixture.auditCount(event: "booking.rescheduled"), 1)
        let detail = try fixture.column("SELECT detail FROM audit_log WHERE event = 'booking.rescheduled'")
        guard case .text(let json) = detail.first else { return XCTFail("no detail") }
        for fact in [
            "\"from_block_id\":\(morning.id)", "\"to_block_id\":\(afternoon.id)",
            "\"from_date\":\"2025-10-08\"", "\"to_date\":\"2025-10-09\"",
            "\"from_start_time\":\"09:00\"", "\"to_start_time\":\"14:00\"",
        ] {
            XCTAssertTrue(json.contains(fact), "\(fact) in \(json)")
        }
    }

    func testRefusedWhenTheClientMayNotReschedule() async throws {
        let booking = try await book(client, morning)
        _ = try await store.setCanSelfReschedule(false, for: ClientIDList([client]))
        try await assertRefused(.permissionDenied, .rescheduleNotAllowed) {
            try await self.store.rescheduleBooking(booking.id, to: self.afternoon.id, for: self.client)
        }
    }

    func testAnotherClientsBookingIsNotFoundLikeOneThatDoesNotExist() async throws {
        let other = try await fixture.client("Other")
        _ = try await store.setCanSelfReschedule(true, for: ClientIDList([other]))
        let theirs = try await book(other, morning)
        let notMine = await portalError {
            try await self.store.rescheduleBooking(theirs.id, to: self.afternoon.id, for: self.client)
        }
        XCTAssertEqual(notMine?.kind, .notFound)
        XCTAssertEqual(notMine?.reason, .bookingNotFound)
        let missingID = BookingID(rawValue: theirs.id.rawValue + 1000)
        let missing = await portalError {
            try await self.store.rescheduleBooking(missingID, to: self.afternoon.id, for: self.client)
        }
        XCTAssertEqual(missing?.kind, notMine?.kind)
        XCTAssertEqual(missing?.reason, notMine?.reason)
        XCTAssertEqual(
            missing?.message.replacingOccurrences(of: "\(missingID)", with: "#"),
            notMine?.message.replacingOccurrences(of: "\(theirs.id)", with: "#"),
            "same words, only the id the caller sent differs")
        // And the other client's booking did not move.
        let actual4 = try await store.bookings(of: other)
        XCTAssertEqual(actual4, [theirs])
        let actual5 = try await store.bookings(of: client)
        XCTAssertEqual(actual5, [])
    }

    func testTheNewBlockMustOfferTheServiceAndHaveRoom() async throws {
        let booking = try await book(client, morning)
        let daycareOnly = try await fixture.block("2025-10-09", "08:00", "18:00", "Daycare")
        try await fixture.capacity(daycareOnly, "daycare", 10)
        try await assertRefused(.failedPrecondition, .serviceNotOffered) {
            try await self.store.rescheduleBooking(booking.id, to: daycareOnly.id, for: self.client)
        }
        try await assertRefused(.notFound, .blockNotFound, field: "new_block_id") {
            try await self.store.rescheduleBooking(booking.id, to: BlockID(rawValue: 999), for: self.client)
        }
        // Fill the afternoon: one booking and one active hold (holds count).
        _ = try await book(try await fixture.client("B"), afternoon)
        _ = try await fixture.hold(try await fixture.client("C"), afternoon, "walk")
        try await assertRefused(.failedPrecondition, .capacityFull) {
            try await self.store.rescheduleBooking(booking.id, to: self.afternoon.id, for: self.client)
        }
        // Once the hold expires there is room again.
        fixture.clock.advance(bySeconds: fixture.holdLifetimeSeconds)
        _ = try await store.rescheduleBooking(booking.id, to: afternoon.id, for: client)
        let usage = try await fixture.usage(afternoon, "walk")
        XCTAssertEqual(usage.booked, 2)
        XCTAssertLessThanOrEqual(usage.booked + usage.held, usage.capacity)
    }

    func testStartedBookingOrStartedBlockIsRefused() async throws {
        let booking = try await book(client, morning)
        let earlyToday = try await fixture.block("2025-10-01", "08:00", "10:00", "Earlier today")
        try await fixture.capacity(earlyToday, "walk", 5)
        // 2025-10-01 12:00 UTC is 13:00 in London: 08:00 has started.
        try await assertRefused(.failedPrecondition, .blockStarted) {
            try await self.store.rescheduleBooking(booking.id, to: earlyToday.id, for: self.client)
        }
        // Once the booking itself has started it cannot move.
        fixture.clock.set(to: fixture.calendar.instant(of: try LocalDate("2025-10-08"), at: try TimeOfDay("09:00")))
        let error = await portalError {
            try await self.store.rescheduleBooking(booking.id, to: self.afternoon.id, for: self.client)
        }
        XCTAssertEqual(error?.reason, .blockStarted)
        XCTAssertEqual(error?.details["booking_id"], "\(booking.id)")
    }

    func testOverlapRuleIgnoresTheBookingBeingMovedButNotOthers() async throws {
        // A block at the same time as the morning one: moving there overlaps
        // only the booking itself, which is leaving.
        let twin = try await fixture.block("2025-10-08", "09:00", "11:00", "Twin")
        try await fixture.capacity(twin, "walk", 3)
        let booking = try await book(client, morning)
        let moved = try await store.rescheduleBooking(booking.id, to: twin.id, for: client)
        XCTAssertEqual(moved.block, twin.id)

        // A second booking of the client in the afternoon: moving the first
        // one onto an afternoon block at the same time is refused.
        _ = try await book(client, afternoon)
        let afternoonTwin = try await fixture.block("2025-10-09", "14:30", "16:00", "Afternoon twin")
        try await fixture.capacity(afternoonTwin, "walk", 3)
        try await assertRefused(.failedPrecondition, .overlappingBooking) {
            try await self.store.rescheduleBooking(booking.id, to: afternoonTwin.id, for: self.client)
        }
        // Where overlap is allowed, it is not refused.
        let relaxed = try await fixture.block("2025-10-09", "14:15", "16:00", "Relaxed")
        try await fixture.capacity(relaxed, "walk", 3, allowOverlap: true)
        try await fixture.capacity(afternoon, "walk", 2, allowOverlap: true)
        _ = try await store.rescheduleBooking(booking.id, to: relaxed.id, for: client)
    }

    func testMovingToTheSameBlockChangesNothing() async throws {
        let booking = try await book(client, morning)
        let before = try fixture.snapshot()
        let same = try await store.rescheduleBooking(booking.id, to: morning.id, for: client)
        XCTAssertEqual(same, booking)
        XCTAssertEqual(try fixture.snapshot(), before)
    }

    func testCancelledBookingsDoNotMove() async throws {
        let booking = try await book(client, morning)
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 5000)
        try db.run("UPDATE bookings SET status = 'cancelled' WHERE booking_id = ?", [.integer(booking.id.rawValue)])
        db.close()
        try await assertRefused(.failedPrecondition, .bookingNotConfirmed) {
            try await self.store.rescheduleBooking(booking.id, to: self.afternoon.id, for: self.client)
        }
    }

    func testConcurrentMovesIntoTheLastSlotLetExactlyOneIn() async throws {
        let tight = try await fixture.block("2025-10-10", "09:00", "10:00", "Tight")
        try await fixture.capacity(tight, "walk", 1)
        var bookings: [(ClientID, Booking)] = []
        for index in 0..<8 {
            let mover = try await fixture.client("M\(index)")
            _ = try await store.setCanSelfReschedule(true, for: ClientIDList([mover]))
            bookings.append((mover, try await book(mover, index < 3 ? morning : afternoon)))
            if index == 4 { break }  // the afternoon holds 2
        }
        let store = self.store
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for (mover, booking) in bookings {
                group.addTask {
                    (try? await store.rescheduleBooking(booking.id, to: tight.id, for: mover)) != nil
                }
            }
            var all: [Bool] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        XCTAssertEqual(outcomes.filter { $0 }.count, 1)
        let usage = try await fixture.usage(tight, "walk")
        XCTAssertEqual(usage.booked, 1)
        let actual6 = try await fixture.usage(morning, "walk").booked + (try await fixture.usage(afternoon, "walk").booked)
        XCTAssertEqual(actual6, 4)
    }

    func testListMyBookingsFiltersByDate() async throws {
        let first = try await book(client, morning)
        let second = try await book(client, afternoon)
        let actual7 = try await store.bookings(of: client)
        XCTAssertEqual(actual7, [first, second])
        let actual8 = try await store.bookings(of: client, from: LocalDate("2025-10-09"))
        XCTAssertEqual(actual8, [second])
        let actual9 = try await store.bookings(of: client, through: LocalDate("2025-10-08"))
        XCTAssertEqual(actual9, [first])
        let actual10 = try await store.bookings(of: ClientID(rawValue: 999))
        XCTAssertEqual(actual10, [])
    }
}
