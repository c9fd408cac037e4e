import Foundation
import Logging
import PortalDomain
import PortalStore
import XCTest

/// Schema version 4's shortcuts give the same answers as counting and
/// scanning everything: the `booked` counter of every capacity row equals
/// the count of its confirmed bookings after any mix of operations and a
/// reopen, and the overlap rule still finds every forbidden overlap (the
/// other block forbidding it, across midnight, up to a day back).
final class BookedCounterAndOverlapTests: XCTestCase {
    private var fixture: StoreFixture!
    private var store: PortalStore { fixture.store }

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
        try await fixture.service("walk", minutes: 60)
        try await fixture.service("daycare", minutes: 480)
        try await fixture.service("boarding", minutes: 1440)
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    private func book(_ client: ClientID, _ block: TimetableBlock, _ code: String = "walk") async throws
        -> Booking
    {
        try await store.insertConfirmedBookingForTesting(
            for: client, block: block.id, service: ServiceCode(code),
            paymentIntentID: "pi_\(UUID().uuidString)")
    }

    private func withDatabase<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        return try body(db)
    }

    /// Capacity rows whose counter differs from the count of their confirmed
    /// bookings, as "block/service: counter vs count".
    private func counterMismatches() throws -> [String] {
        try withDatabase { db in
            try db.rows(
                """
                SELECT c.block_id, c.service_code, c.booked,
                    (SELECT count(*) FROM bookings k
                     WHERE k.block_id = c.block_id AND k.service_code = c.service_code
                       AND k.status = 'confirmed')
                FROM block_capacities c
                """
            ) { row in (row.int64(0), row.text(1), row.int(2), row.int(3)) }
            .filter { $0.2 != $0.3 }
            .map { "\($0.0)/\($0.1): \($0.2) vs \($0.3)" }
        }
    }

    /// Closes the store and puts in its place an empty database at schema
    /// `version` (the steps up to it, without their version bumps), open on
    /// the returned connection; the test fills it and sets `user_version`.
    private func replaceDatabase(withSchema version: Int) async throws -> SQLiteConnection {
        await store.close()
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: fixture.path + suffix)
        }
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 5000)
        for migration in Migrations.all where migration.version <= version {
            try db.execute(script: migration.sql)
        }
        return db
    }

    private func confirmedBookings() throws -> Int {
        try withDatabase { db in
            Int(try db.integer("SELECT count(*) FROM bookings WHERE status = 'confirmed'") ?? 0)
        }
    }

    // MARK: The booked counter

    func testCounterEqualsTheCountAfterAMixOfOperationsAndAfterReopening() async throws {
        let morning = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning")
        let noon = try await fixture.block("2025-10-08", "12:00", "14:00", "Noon")
        let evening = try await fixture.block("2025-10-08", "18:00", "20:00", "Evening")
        for block in [morning, noon, evening] {
            try await fixture.capacity(block, "walk", 10, allowOverlap: true)
            try await fixture.capacity(block, "daycare", 10, allowOverlap: true)
        }
        var clients: [ClientID] = []
        for index in 0..<4 { clients.append(try await fixture.client("Client \(index)")) }
        _ = try await store.setCanSelfReschedule(true, for: ClientIDList(clients))

        // Bookings through the direct path and through a paid checkout.
        var bookings: [Booking] = []
        for client in clients {
            bookings.append(try await book(client, morning))
            bookings.append(try await book(client, noon, "daycare"))
        }
        let hold = try await fixture.hold(clients[0], evening, "walk").hold
        _ = try await store.attachPayment(
            "pi_checkout", clientSecret: "pi_checkout_secret", toHold: hold.token, of: clients[0])
        let settled = try await store.settlePaidHold(
            hold.token, of: clients[0],
            payment: VerifiedPayment(
                paymentIntentID: "pi_checkout", amountCents: 1500, currency: "gbp", isCaptured: false),
            actor: "client")
        guard case .booked = settled else { return XCTFail("\(settled)") }
        var usage = try await fixture.usage(morning, "walk")
        XCTAssertEqual(usage.booked, 4)
        usage = try await fixture.usage(evening, "walk")
        XCTAssertEqual(usage.booked, 1)

        // Moves leave one block and enter another (bookings: [c0 morning
        // walk, c0 noon daycare, c1 morning walk, c1 noon daycare, …]).
        _ = try await store.rescheduleBooking(bookings[0].id, to: evening.id, for: clients[0])
        _ = try await store.rescheduleBooking(bookings[2].id, to: noon.id, for: clients[1])
        // A cancellation and a removal (no store operation does either yet;
        // the triggers follow the rows whatever changes them).
        try withDatabase { db in
            try db.run(
                "UPDATE bookings SET status = 'cancelled' WHERE booking_id = ?",
                [.integer(bookings[4].id.rawValue)])
            try db.run("DELETE FROM bookings WHERE booking_id = ?", [.integer(bookings[6].id.rawValue)])
        }
        usage = try await fixture.usage(morning, "walk")
        XCTAssertEqual(usage.booked, 0)
        usage = try await fixture.usage(evening, "walk")
        XCTAssertEqual(usage.booked, 2)
        usage = try await fixture.usage(noon, "walk")
        XCTAssertEqual(usage.booked, 1)

        // Setting a capacity again keeps the count; a row added again where
        // bookings exist (only possible behind the store's back) re-counts.
        usage = try await fixture.capacity(noon, "walk", 3, allowOverlap: false)
        XCTAssertEqual(usage.booked, 1)
        await assertPortalError(.failedPrecondition, .capacityInUse) {
            try await self.store.removeCapacity(of: ServiceCode("walk"), from: noon.id)
        }
        try await store.removeCapacity(of: ServiceCode("daycare"), from: evening.id)
        usage = try await fixture.capacity(evening, "daycare", 2)
        XCTAssertEqual(usage.booked, 0)
        try withDatabase { db in
            try db.run(
                "DELETE FROM block_capacities WHERE block_id = ? AND service_code = 'daycare'",
                [.integer(noon.id.rawValue)])
        }
        usage = try await fixture.capacity(noon, "daycare", 10, allowOverlap: true)
        XCTAssertEqual(usage.booked, 4)

        // Copies start empty; deleting and replacing blocks takes their rows along.
        let copy = try await store.copyDay(
            from: LocalDate("2025-10-08"), to: LocalDate("2025-10-09"), replace: false)
        XCTAssertEqual(copy.blocks.map(\.block.label.rawValue), ["Morning", "Noon", "Evening"])
        try await store.deleteBlock(copy.blocks[0].block.id)
        let copiedEvening = copy.blocks[2].block
        _ = try await book(clients[3], copiedEvening)
        _ = try await store.copyDay(
            from: LocalDate("2025-10-08"), to: LocalDate("2025-10-10"), replace: false)
        _ = try await store.copyDay(
            from: LocalDate("2025-10-08"), to: LocalDate("2025-10-10"), replace: true)

        XCTAssertEqual(try counterMismatches(), [])
        XCTAssertEqual(try confirmedBookings(), 8)
        let day = try await store.day(LocalDate("2025-10-08"))
        XCTAssertEqual(day.flatMap(\.capacities).map(\.booked).reduce(0, +), 7)
        let available = try await store.availableBlocks(on: LocalDate("2025-10-09"), for: ServiceCode("walk"))
        // The copied noon block: walk capacity 3, nothing booked; the copied
        // evening: 10, one booked.
        XCTAssertEqual(available.map(\.remaining), [3, 9])

        try await fixture.reopen()
        XCTAssertEqual(try counterMismatches(), [])
        usage = try await fixture.usage(noon, "daycare")
        XCTAssertEqual(usage.booked, 4)
        usage = try await fixture.usage(evening, "walk")
        XCTAssertEqual(usage.booked, 2)
        // And capacity is still enforced from the counter.
        try await fixture.capacity(evening, "walk", 2, allowOverlap: true)
        await assertPortalError(.failedPrecondition, .capacityFull) {
            try await self.fixture.hold(clients[2], evening, "walk")
        }
    }

    func testMigratingAnOlderDatabaseCountsItsBookings() async throws {
        let db = try await replaceDatabase(withSchema: 3)
        try db.execute(
            script: """
                PRAGMA user_version = 3;
                INSERT INTO services VALUES ('walk', 60, 1500, 'gbp', '', 0, 0);
                INSERT INTO blocks VALUES (1, '2025-10-08', 540, 720, 'Morning', 0, 0);
                INSERT INTO blocks VALUES (2, '2025-10-08', 780, 900, 'Afternoon', 0, 0);
                INSERT INTO block_capacities VALUES (1, 'walk', 5, 0, 0);
                INSERT INTO block_capacities VALUES (2, 'walk', 5, 0, 0);
                INSERT INTO clients (client_id, name, created_at, updated_at) VALUES (1, 'A', 0, 0);
                INSERT INTO clients (client_id, name, created_at, updated_at) VALUES (2, 'B', 0, 0);
                INSERT INTO clients (client_id, name, created_at, updated_at) VALUES (3, 'C', 0, 0);
                INSERT INTO bookings (client_id, service_code, block_id, date, start_minute,
                    duration_minutes, span_start, span_end, block_label, amount_cents, currency,
                    payment_intent_id, status, payment_state, created_at, updated_at)
                VALUES
                    (1, 'walk', 1, '2025-10-08', 540, 60, 29331900, 29331960, 'Morning', 1500, 'gbp',
                     'pi_1', 'confirmed', 'captured', 0, 0),
                    (2, 'walk', 1, '2025-10-08', 540, 60, 29331900, 29331960, 'Morning', 1500, 'gbp',
                     'pi_2', 'confirmed', 'captured', 0, 0),
                    (3, 'walk', 1, '2025-10-08', 540, 60, 29331900, 29331960, 'Morning', 1500, 'gbp',
                     'pi_3', 'cancelled', 'refunded', 0, 0);
                """)
        db.close()
        try await fixture.reopen()

        let version = try await store.schemaVersion()
        XCTAssertEqual(version, Migrations.latestVersion)
        XCTAssertEqual(try counterMismatches(), [])
        let morning = try await store.capacityUsage(of: BlockID(rawValue: 1), for: ServiceCode("walk"))
        XCTAssertEqual(morning.booked, 2)
        XCTAssertEqual(morning.remaining, 3)
        let afternoon = try await store.capacityUsage(of: BlockID(rawValue: 2), for: ServiceCode("walk"))
        XCTAssertEqual(afternoon.booked, 0)
        // Schema 12: no trigger raises the count of a new booking; the
        // store's insert does.
        let insertTriggers = try withDatabase { db in
            try db.integer(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = 'bookings_booked_on_insert'")
        }
        XCTAssertEqual(insertTriggers, 0)
        _ = try await store.insertConfirmedBookingForTesting(
            for: ClientID(rawValue: 3), block: BlockID(rawValue: 2), service: ServiceCode("walk"),
            paymentIntentID: "pi_after_migration")
        let afternoonBooked = try await store.capacityUsage(of: BlockID(rawValue: 2), for: ServiceCode("walk"))
        XCTAssertEqual(afternoonBooked.booked, 1)
        XCTAssertEqual(try counterMismatches(), [])
        // The migrated overlap rule still sees the old bookings.
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.store.createHold(
                for: ClientID(rawValue: 1), block: BlockID(rawValue: 1), service: ServiceCode("walk"))
        }
    }

    // MARK: The overlap rule

    func testOverlapIsRefusedWhenOnlyTheOtherBlockForbidsIt() async throws {
        let strict = try await fixture.block("2025-10-08", "09:00", "10:00", "Strict")
        let relaxed = try await fixture.block("2025-10-08", "09:30", "10:30", "Relaxed")
        let later = try await fixture.block("2025-10-08", "10:00", "11:00", "Later")
        try await fixture.capacity(strict, "walk", 5, allowOverlap: false)
        try await fixture.capacity(relaxed, "walk", 5, allowOverlap: true)
        try await fixture.capacity(later, "walk", 5, allowOverlap: true)
        let booked = try await fixture.client("Booked")
        let holding = try await fixture.client("Holding")
        let free = try await fixture.client("Free")
        let booking = try await book(booked, strict)
        _ = try await fixture.hold(holding, strict, "walk")

        // The target allows overlap, the other block does not: refused,
        // whether the other is a booking or a hold.
        for client in [booked, holding] {
            await assertPortalError(.failedPrecondition, .overlappingBooking) {
                try await self.fixture.hold(client, relaxed, "walk")
            }
        }
        let freeIsNew = try await fixture.hold(free, relaxed, "walk").isNew
        XCTAssertTrue(freeIsNew)
        // Touching is not overlapping.
        let laterIsNew = try await fixture.hold(booked, later, "walk").isNew
        XCTAssertTrue(laterIsNew)

        // A moved booking does not overlap itself, even in a strict block.
        _ = try await store.setCanSelfReschedule(true, for: ClientIDList([booked]))
        let moved = try await store.rescheduleBooking(booking.id, to: relaxed.id, for: booked)
        XCTAssertEqual(moved.block, relaxed.id)
        // Once the strict block allows overlap, nothing forbids it any more.
        try await fixture.capacity(strict, "walk", 5, allowOverlap: true)
        let holdingIsNew = try await fixture.hold(holding, relaxed, "walk").isNew
        XCTAssertTrue(holdingIsNew)
    }

    func testABookingWhoseBlockNoLongerOffersTheServiceStillForbidsOverlap() async throws {
        let old = try await fixture.block("2025-10-08", "09:00", "10:00", "Old")
        let relaxed = try await fixture.block("2025-10-08", "09:30", "10:30", "Relaxed")
        try await fixture.capacity(old, "walk", 5, allowOverlap: true)
        try await fixture.capacity(relaxed, "walk", 5, allowOverlap: true)
        let client = try await fixture.client()
        _ = try await book(client, old)
        // Only behind the store's back (RemoveCapacity refuses while booked).
        try withDatabase { db in
            try db.run("DELETE FROM block_capacities WHERE block_id = ?", [.integer(old.id.rawValue)])
        }
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.fixture.hold(client, relaxed, "walk")
        }
    }

    func testOverlapsAcrossMidnightAreFoundWhicheverBlockForbidsThem() async throws {
        // 20:00 + 480 minutes: until 04:00 the next day.
        let lateStrict = try await fixture.block("2025-10-08", "20:00", "22:00", "Late strict")
        let lateRelaxed = try await fixture.block("2025-10-08", "22:00", "23:00", "Late relaxed")
        let earlyRelaxed = try await fixture.block("2025-10-09", "03:00", "05:00", "Early relaxed")
        let earlyStrict = try await fixture.block("2025-10-09", "05:00", "07:00", "Early strict")
        let dawnRelaxed = try await fixture.block("2025-10-09", "04:00", "05:00", "Dawn relaxed")
        try await fixture.capacity(lateStrict, "daycare", 5, allowOverlap: false)
        try await fixture.capacity(lateRelaxed, "daycare", 5, allowOverlap: true)
        try await fixture.capacity(earlyRelaxed, "daycare", 5, allowOverlap: true)
        try await fixture.capacity(earlyStrict, "daycare", 5, allowOverlap: false)
        try await fixture.capacity(dawnRelaxed, "daycare", 5, allowOverlap: true)
        let first = try await fixture.client("First")
        let second = try await fixture.client("Second")

        // The other (yesterday's) block forbids, the target allows.
        _ = try await book(first, lateStrict, "daycare")
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.fixture.hold(first, earlyRelaxed, "daycare")
        }
        let dawnIsNew = try await fixture.hold(first, dawnRelaxed, "daycare").isNew
        XCTAssertTrue(dawnIsNew)

        // The other block allows (22:00 → 06:00), the target forbids.
        _ = try await book(second, lateRelaxed, "daycare")
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.fixture.hold(second, earlyStrict, "daycare")
        }
    }

    func testOnlyRowsStartingLessThanADayBeforeCanOverlapAndTheyAreAllFound() async throws {
        // A day-long stay from 10:00: it ends at 10:00 the next day.
        let stay = try await fixture.block("2025-10-08", "10:00", "11:00", "Stay")
        let lastMinute = try await fixture.block("2025-10-09", "09:59", "11:00", "Last minute")
        let nextStay = try await fixture.block("2025-10-09", "10:00", "11:00", "Next stay")
        let lastMinuteRelaxed = try await fixture.block("2025-10-09", "09:59", "10:30", "Relaxed")
        try await fixture.capacity(stay, "boarding", 5, allowOverlap: false)
        try await fixture.capacity(lastMinute, "boarding", 5, allowOverlap: false)
        try await fixture.capacity(nextStay, "boarding", 5, allowOverlap: false)
        try await fixture.capacity(lastMinuteRelaxed, "boarding", 5, allowOverlap: true)
        let client = try await fixture.client()
        // Older history that cannot overlap anything here.
        let older = try await fixture.block("2025-10-06", "10:00", "11:00", "Older")
        try await fixture.capacity(older, "boarding", 5, allowOverlap: false)
        _ = try await book(client, older, "boarding")
        _ = try await book(client, stay, "boarding")

        // Started 1439 minutes earlier: still overlaps, from either kind of target.
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.fixture.hold(client, lastMinute, "boarding")
        }
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.fixture.hold(client, lastMinuteRelaxed, "boarding")
        }
        // Started exactly a day earlier: ended as this one starts.
        let nextIsNew = try await fixture.hold(client, nextStay, "boarding").isNew
        XCTAssertTrue(nextIsNew)
    }

    func testSchema9ChecksSpansWithoutTriggersAndKeepsTheRowsItMigrates() async throws {
        // A database at schema 8 with a day-long booking and a live hold.
        let old = try await replaceDatabase(withSchema: 8)
        try old.execute(
            script: """
                PRAGMA user_version = 8;
                INSERT INTO services VALUES ('boarding', 1440, 9000, 'gbp', '', 0, 0);
                INSERT INTO blocks VALUES (1, '2025-10-08', 540, 720, 'Morning', 0, 0);
                INSERT INTO block_capacities (block_id, service_code, capacity, allow_overlap, updated_at)
                    VALUES (1, 'boarding', 5, 1, 0);
                INSERT INTO clients (client_id, name, created_at, updated_at) VALUES (1, 'A', 0, 0);
                INSERT INTO bookings (client_id, service_code, block_id, date, start_minute,
                    duration_minutes, span_start, span_end, block_label, amount_cents, currency,
                    payment_intent_id, status, payment_state, created_at, updated_at)
                VALUES (1, 'boarding', 1, '2025-10-08', 540, 1440, 29331900, 29333340, 'Morning', 9000, 'gbp',
                    'pi_1', 'confirmed', 'captured', 0, 0);
                INSERT INTO holds (token, block_id, service_code, client_id, span_start, span_end, created_at,
                    expires_at, state, amount_cents, currency, updated_at)
                VALUES ('t1', 1, 'boarding', 1, 29331900, 29333340, 0, 4102444800, 'active', 9000, 'gbp', 0);
                """)
        old.close()
        try await fixture.reopen()
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, Migrations.latestVersion)

        try withDatabase { db in
            XCTAssertEqual(
                try db.integer("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '%span%'"), 0)
            XCTAssertEqual(try db.integer("SELECT count(*) FROM bookings WHERE span_end - span_start = 1440"), 1)
            XCTAssertEqual(try db.integer("SELECT count(*) FROM holds WHERE span_end - span_start = 1440"), 1)
            XCTAssertEqual(try counterMismatches(), [])
            // Longer than a day: refused on insert and on update, in both tables.
            XCTAssertThrowsError(
                try db.run(
                    """
                    INSERT INTO bookings (client_id, service_code, block_id, date, start_minute,
                        duration_minutes, span_start, span_end, block_label, amount_cents, currency,
                        payment_intent_id, status, payment_state, created_at, updated_at)
                    VALUES (1, 'boarding', 1, '2025-10-08', 540, 1440, 29331900, 29333341, 'Morning', 9000,
                        'gbp', 'pi_2', 'confirmed', 'captured', 0, 0)
                    """))
            XCTAssertThrowsError(
                try db.run(
                    """
                    INSERT INTO holds (token, block_id, service_code, client_id, span_start, span_end,
                        created_at, expires_at, state, amount_cents, currency, updated_at)
                    VALUES ('t2', 1, 'boarding', 1, 29331900, 29333341, 0, 4102444800, 'active', 9000, 'gbp', 0)
                    """))
            XCTAssertThrowsError(try db.run("UPDATE bookings SET span_end = span_start + 1441"))
            XCTAssertThrowsError(try db.run("UPDATE holds SET span_start = span_end - 1441"))
            XCTAssertEqual(try db.integer("SELECT count(*) FROM bookings"), 1)
            XCTAssertEqual(try db.integer("SELECT count(*) FROM holds"), 1)
            XCTAssertEqual(try db.integer("SELECT sum(span_end - span_start) FROM bookings"), 1440)
            XCTAssertEqual(try db.integer("SELECT booked FROM block_capacities"), 1)
        }
    }

    func testTheSchemaRefusesSpansLongerThanADayAndMovingABlocksDate() async throws {
        let block = try await fixture.block("2025-10-08", "10:00", "11:00", "Stay")
        try await fixture.capacity(block, "walk", 5)
        let client = try await fixture.client()
        let hold = try await fixture.hold(client, block, "walk").hold
        try withDatabase { db in
            XCTAssertThrowsError(
                try db.run(
                    "UPDATE holds SET span_end = span_start + 1441 WHERE token = ?",
                    [.text(hold.token.rawValue)]))
            XCTAssertThrowsError(
                try db.run(
                    "UPDATE blocks SET date = '2025-10-09' WHERE block_id = ?", [.integer(block.id.rawValue)]))
            XCTAssertNoThrow(
                try db.run(
                    "UPDATE holds SET span_end = span_start + 1440 WHERE token = ?",
                    [.text(hold.token.rawValue)]))
        }
    }
}
