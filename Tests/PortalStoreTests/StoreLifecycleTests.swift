import Dispatch
import Foundation
import Logging
import PortalDomain
@testable import PortalStore
import XCTest

/// Opening, migrating, closing; cancellation; the audit log's append-only rule.
final class StoreLifecycleTests: XCTestCase {
    private var fixture: StoreFixture!

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    func testOpensInWALModeWithTheLatestSchemaVersion() async throws {
        let version = try await fixture.store.schemaVersion()
        XCTAssertEqual(version, Migrations.latestVersion)
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        defer { db.close() }
        XCTAssertEqual(try db.row("PRAGMA journal_mode") { $0.text(0) }, "wal")
        let tables = try db.rows("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") { $0.text(0) }
        XCTAssertEqual(
            tables,
            ["audit_log", "block_capacities", "blocks", "bookings", "clients", "holds", "outbox",
             "portal_users", "services", "sessions", "store_identity"])
    }

    /// The id checkout PaymentIntents carry (start-up repair tells this
    /// database's from another's by it) is drawn once per database, and the
    /// store reads when earlier runs last recorded a change.
    func testTheDatabasesIDIsDrawnOnceAndTheLastRecordedChangeIsReadAtOpen() async throws {
        let id = fixture.store.storeID
        XCTAssertEqual(id.count, 32)
        XCTAssertTrue(id.allSatisfy(\.isHexDigit), id)
        // A new database: nothing recorded yet, so its creation (real time).
        let created = fixture.store.earlierRunsLastChange.unixSeconds
        XCTAssertLessThan(abs(created - Int64(Date().timeIntervalSince1970)), 60)

        // A hold recorded an hour after the creation, then a restart.
        fixture.clock.set(to: Instant(unixSeconds: created + 3600))
        try await fixture.service("walk", minutes: 60)
        let block = try await fixture.block("2030-01-07", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 3)
        _ = try await fixture.hold(try await fixture.client(), block, "walk")
        try await fixture.reopen()
        XCTAssertEqual(fixture.store.storeID, id, "drawn once")
        XCTAssertEqual(fixture.store.earlierRunsLastChange.unixSeconds, created + 3600)

        let other = try await StoreFixture.make()
        XCTAssertNotEqual(other.store.storeID, id, "another database, another id")
        await other.tearDown()
    }

    func testReopeningDoesNotMigrateAgain() async throws {
        try await fixture.service("walk", minutes: 60)
        try await fixture.reopen()
        let services = try await fixture.store.listServices()
        XCTAssertEqual(services.map(\.code.rawValue), ["walk"])
    }

    func testOneStoreAtATimeRunsOverADatabaseFile() async throws {
        await assertPortalError(.failedPrecondition, .databaseInUse) {
            try await PortalStore.open(
                configuration: .init(path: self.fixture.path), calendar: self.fixture.calendar,
                clock: self.fixture.clock)
        }
        // The refused open changed nothing; the first store works on, and
        // once it is closed the file can be opened again.
        try await fixture.service("walk", minutes: 60)
        try await fixture.reopen()
        let services = try await fixture.store.listServices()
        XCTAssertEqual(services.map(\.code.rawValue), ["walk"])
    }

    func testRefusesADatabaseFromANewerSchema() async throws {
        await fixture.store.close()
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        try db.execute(script: "PRAGMA user_version = 99")
        db.close()
        await assertPortalError(.failedPrecondition, .schemaTooNew) {
            try await PortalStore.open(
                configuration: .init(path: self.fixture.path), calendar: self.fixture.calendar,
                clock: self.fixture.clock)
        }
        // Put it back so tearDown can close cleanly.
        let fix = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        try fix.execute(script: "PRAGMA user_version = \(Migrations.latestVersion)")
        fix.close()
        try await fixture.reopen()
    }

    func testRefusesABadConfiguration() async throws {
        await assertPortalError(.invalidArgument, .invalidConfiguration, field: "hold_lifetime_seconds") {
            try await PortalStore.open(
                configuration: .init(path: self.fixture.path, holdLifetimeSeconds: 0),
                calendar: self.fixture.calendar, clock: self.fixture.clock)
        }
        await assertPortalError(.invalidArgument, .invalidConfiguration, field: "checkpoint_frames") {
            try await PortalStore.open(
                configuration: .init(path: self.fixture.path, checkpointFrames: 0),
                calendar: self.fixture.calendar, clock: self.fixture.clock)
        }
    }

    func testHoldLifetimeIsConfigurable() async throws {
        let short = try await StoreFixture.make(holdLifetimeSeconds: 120)
        addTeardownBlock { await short.tearDown() }
        try await short.service("walk", minutes: 60)
        let block = try await short.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await short.capacity(block, "walk", 1)
        let hold = try await short.hold(try await short.client(), block, "walk").hold
        XCTAssertEqual(hold.expiresAt.unixSeconds - hold.createdAt.unixSeconds, 120)
        short.clock.advance(bySeconds: 120)
        let remaining = try await short.store.remainingCapacity(of: block.id, for: ServiceCode("walk"))
        XCTAssertEqual(remaining, 1)
    }

    func testACancelledCallWritesNothing() async throws {
        let before = try fixture.snapshot()
        let store = fixture.store
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await store.upsertService(
                ServiceDefaults(code: ServiceCode("walk"), durationMinutes: 60, priceCents: 1, currency: "gbp"))
        }
        do {
            _ = try await task.value
            XCTFail("a cancelled call must not run")
        } catch is CancellationError {
        }
        XCTAssertEqual(try fixture.snapshot(), before)
    }

    func testAWriteOrReadPastTheCallsDeadlineIsNotStarted() async throws {
        let before = try fixture.snapshot()
        let store = fixture.store
        let passed = DispatchTime.now().uptimeNanoseconds - 1
        do {
            _ = try await CallDeadline.$uptimeNanoseconds.withValue(passed) {
                try await store.createClient(name: "Late")
            }
            XCTFail("a write past its deadline must not run")
        } catch is CancellationError {
        }
        do {
            _ = try await CallDeadline.$uptimeNanoseconds.withValue(passed) { try await store.listServices() }
            XCTFail("a read past its deadline must not run")
        } catch is CancellationError {
        }
        XCTAssertEqual(try fixture.snapshot(), before)
        // With time to spare, the same call runs.
        let later = DispatchTime.now().uptimeNanoseconds + 60_000_000_000
        _ = try await CallDeadline.$uptimeNanoseconds.withValue(later) { try await store.createClient(name: "On time") }
        XCTAssertNotEqual(try fixture.snapshot(), before)
    }

    func testAWriteStillRunningAtItsDeadlineIsRolledBack() async throws {
        let before = try fixture.snapshot()
        let store = fixture.store
        // 50 ms from now; the write takes 150 ms — no task is cancelled,
        // only the deadline passes.
        let deadline = DispatchTime.now().uptimeNanoseconds + 50_000_000
        do {
            try await CallDeadline.$uptimeNanoseconds.withValue(deadline) {
                try await store.write { db, now in
                    try db.run(
                        "INSERT INTO clients (name, email, phone, created_at, updated_at) VALUES ('Slow', '', '', ?1, ?1)",
                        [.integer(now.unixSeconds)])
                    usleep(150_000)
                }
            }
            XCTFail("a write that outran its deadline must not commit")
        } catch is CancellationError {
        }
        XCTAssertEqual(try fixture.snapshot(), before)
    }

    func testAHoldsReleaseIsDoneEvenPastTheCallersDeadlineOrCancellation() async throws {
        try await fixture.service("walk", minutes: 60)
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 2)
        let client = try await fixture.client()
        let store = fixture.store
        let walk = try ServiceCode("walk")
        let first = try await fixture.hold(client, block, "walk").hold
        let passed = DispatchTime.now().uptimeNanoseconds - 1
        let released = try await CallDeadline.$uptimeNanoseconds.withValue(passed) {
            try await store.releaseUnpaidHold(first.token, of: client, reason: .interrupted).released
        }
        XCTAssertTrue(released, "released past the deadline")
        let second = try await fixture.hold(client, block, "walk").hold
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await store.releaseUnpaidHold(second.token, of: client, reason: .interrupted).released
        }
        let releasedToo = try await cancelled.value
        XCTAssertTrue(releasedToo, "released by a cancelled task")
        let remaining = try await store.remainingCapacity(of: block.id, for: walk)
        XCTAssertEqual(remaining, 2)
    }

    func testCallsAfterCloseFailAsUnavailable() async throws {
        await fixture.store.close()
        await assertPortalError(.unavailable, .storeClosed) { try await self.fixture.store.listServices() }
        await assertPortalError(.unavailable, .storeClosed) {
            try await self.fixture.store.createClient(name: "Late")
        }
        try await fixture.reopen()
    }

    func testAWriterInAnotherProcessMakesWritesWaitThenFailAsBusy() async throws {
        await fixture.store.close()
        let impatient = try await PortalStore.open(
            configuration: .init(path: fixture.path, busyTimeoutMilliseconds: 50),
            calendar: fixture.calendar, clock: fixture.clock)
        let other = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 50)
        try other.run("BEGIN IMMEDIATE")
        await assertPortalError(.unavailable, .storeBusy) {
            try await impatient.upsertService(
                ServiceDefaults(code: ServiceCode("walk"), durationMinutes: 60, priceCents: 1, currency: "gbp"))
        }
        // Readers are not blocked by a writer (WAL).
        let services = try await impatient.listServices()
        XCTAssertEqual(services, [])
        try other.run("ROLLBACK")
        other.close()
        let upsert = try await impatient.upsertService(
            ServiceDefaults(code: ServiceCode("walk"), durationMinutes: 60, priceCents: 1, currency: "gbp"))
        XCTAssertTrue(upsert.created)
        await impatient.close()
        try await fixture.reopen()
    }

    func testAuditLogIsAppendOnly() async throws {
        try await fixture.service("walk", minutes: 60)
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        defer { db.close() }
        XCTAssertEqual(try db.integer("SELECT count(*) FROM audit_log"), 1)
        XCTAssertThrowsError(try db.run("UPDATE audit_log SET event = 'x'"))
        XCTAssertThrowsError(try db.run("DELETE FROM audit_log"))
        XCTAssertEqual(try db.row("SELECT event, detail FROM audit_log") { "\($0.text(0)) \($0.text(1))" },
                       #"service.created {"duration_minutes":60,"price_cents":1500,"currency":"gbp"}"#)
    }

    func testSchema7KeepsEveryAuditEntryAndItsIdAndStaysAppendOnly() async throws {
        // A database at schema 6, with audit entries written under AUTOINCREMENT.
        let path = fixture.directory.appendingPathComponent("v6.sqlite").path
        let old = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1000)
        for migration in Migrations.all where migration.version <= 6 {
            try old.execute(script: migration.sql)
            try old.execute(script: "PRAGMA user_version = \(migration.version)")
        }
        for (entity, id, event, detail) in [
            ("service", "walk", "service.created", #"{"duration_minutes":60}"#),
            ("hold", "7", "hold.created", #"{"note":"a \"quoted\" word"}"#),
            ("booking", "3", "booking.created", "{}"),
        ] {
            try old.run(
                "INSERT INTO audit_log (entity, entity_id, event, at, detail) VALUES (?, ?, ?, 1700000000, ?)",
                [.text(entity), .text(id), .text(event), .text(detail)])
        }
        let rowsBefore = try old.rows("SELECT * FROM audit_log ORDER BY audit_id") { row in
            (0..<row.columnCount).map { row.value($0) }
        }
        old.close()
        XCTAssertEqual(rowsBefore.count, 3)

        let store = try await PortalStore.open(
            configuration: .init(path: path), calendar: fixture.calendar, clock: fixture.clock)
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, Migrations.latestVersion)
        _ = try await store.upsertService(
            ServiceDefaults(code: ServiceCode("daycare"), durationMinutes: 480, priceCents: 4000, currency: "gbp"))
        await store.close()

        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1000)
        defer { db.close() }
        let rowsAfter = try db.rows("SELECT * FROM audit_log ORDER BY audit_id") { row in
            (0..<row.columnCount).map { row.value($0) }
        }
        XCTAssertEqual(Array(rowsAfter.prefix(3)).description, rowsBefore.description)
        // The next entry takes the next id; the sequence table no longer has one for the log.
        XCTAssertEqual(try db.integer("SELECT audit_id FROM audit_log WHERE event = 'service.created' AND entity_id = 'daycare'"), 4)
        XCTAssertEqual(try db.integer("SELECT count(*) FROM sqlite_sequence WHERE name = 'audit_log'"), 0)
        // Its two append-only triggers (its index by entity went in version 11).
        XCTAssertEqual(
            try db.integer("SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'audit_log' AND type IN ('index', 'trigger')"), 2)
        XCTAssertThrowsError(try db.run("UPDATE audit_log SET event = 'x' WHERE audit_id = 1"))
        XCTAssertThrowsError(try db.run("DELETE FROM audit_log WHERE audit_id = 4"))
        XCTAssertEqual(try db.integer("SELECT count(*) FROM audit_log"), 4)
    }

    func testConcurrentReadsAndWritesDoNotBlockEachOther() async throws {
        try await fixture.service("walk", minutes: 60)
        let store = fixture.store
        let date = try LocalDate("2025-10-08")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    if index.isMultiple(of: 2) {
                        let block = try await store.createBlock(
                            on: date, times: BlockTimes(start: "09:00", end: "10:00"), label: BlockLabel("B\(index)"))
                        _ = try await store.setCapacity(
                            BlockCapacity(block: block.id, service: ServiceCode("walk"), capacity: index, allowOverlap: false))
                    } else {
                        _ = try await store.day(date)
                        _ = try await store.availableBlocks(on: date, for: ServiceCode("walk"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let day = try await store.day(date)
        XCTAssertEqual(day.count, 20)
        XCTAssertEqual(day.map(\.block.id), day.map(\.block.id).sorted())
    }

    func testSchema8ListsAClientsBookingsInDateOrderWithoutItsOwnIndex() async throws {
        try await fixture.service("walk", minutes: 60)
        let store = fixture.store
        let client = try await fixture.client("Ada")
        let other = try await fixture.client("Bob")
        // Booked out of date order, with another client's booking between.
        for (index, date) in ["2025-10-09", "2025-10-07", "2025-10-08"].enumerated() {
            let block = try await fixture.block(date, "09:00", "12:00", "Morning")
            try await fixture.capacity(block, "walk", 5)
            _ = try await store.insertConfirmedBookingForTesting(
                for: client, block: block.id, service: ServiceCode("walk"), paymentIntentID: "pi_ada\(index)")
            _ = try await store.insertConfirmedBookingForTesting(
                for: other, block: block.id, service: ServiceCode("walk"), paymentIntentID: "pi_bob\(index)")
        }
        let listed = try await store.bookings(of: client)
        XCTAssertEqual(listed.map(\.date.description), ["2025-10-07", "2025-10-08", "2025-10-09"])
        let fromThe8th = try await store.bookings(of: client, from: LocalDate("2025-10-08"))
        XCTAssertEqual(fromThe8th.map(\.paymentIntentID), ["pi_ada2", "pi_ada0"])

        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        defer { db.close() }
        XCTAssertEqual(
            try db.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'bookings_by_client_date'"), 0)
        XCTAssertEqual(
            try db.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'bookings_by_client_span'"), 1)
    }

    func testSchema10ListsADaysBookingsThroughItsBlocksAndThoseThatLostTheirBlock() async throws {
        try await fixture.service("walk", minutes: 60)
        let store = fixture.store
        let ada = try await fixture.client("Ada")
        let bob = try await fixture.client("Bob")
        // Blocks created out of time order; one on the next day.
        let ten = try await fixture.block("2025-10-08", "10:00", "11:00", "Ten")
        let nine = try await fixture.block("2025-10-08", "09:00", "10:00", "Nine")
        let eleven = try await fixture.block("2025-10-08", "11:00", "12:00", "Eleven")
        let nextDay = try await fixture.block("2025-10-09", "08:00", "09:00", "Next")
        for block in [ten, nine, eleven, nextDay] { try await fixture.capacity(block, "walk", 5) }
        let walk = try ServiceCode("walk")
        func book(_ client: ClientID, _ block: TimetableBlock, _ id: String) async throws -> Booking {
            try await store.insertConfirmedBookingForTesting(
                for: client, block: block.id, service: walk, paymentIntentID: id)
        }
        let adaTen = try await book(ada, ten, "pi_1")
        let bobNine = try await book(bob, nine, "pi_2")
        let bobEleven = try await book(bob, eleven, "pi_3")
        let adaNine = try await book(ada, nine, "pi_4")
        _ = try await book(ada, nextDay, "pi_5")
        // Bob's eleven o'clock is cancelled and its block deleted: the
        // booking keeps its date and time, and loses its block.
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        defer { db.close() }
        try db.run("UPDATE bookings SET status = 'cancelled' WHERE booking_id = ?", [.integer(bobEleven.id.rawValue)])
        try await store.deleteBlock(eleven.id)

        let listed = try await store.bookings(on: LocalDate("2025-10-08"))
        XCTAssertEqual(listed.map(\.id), [bobNine.id, adaNine.id, adaTen.id, bobEleven.id])
        XCTAssertEqual(listed.last?.block, nil)
        XCTAssertEqual(listed.last?.status, .cancelled)
        XCTAssertEqual(listed.last?.startTime.description, "11:00")
        XCTAssertEqual(listed.first, bobNine)
        let nextDays = try await store.bookings(on: LocalDate("2025-10-09"))
        XCTAssertEqual(nextDays.map(\.paymentIntentID), ["pi_5"])
        let emptyDays = try await store.bookings(on: LocalDate("2025-10-10"))
        XCTAssertEqual(emptyDays, [])
        XCTAssertEqual(try db.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'bookings_by_date'"), 0)
        XCTAssertEqual(
            try db.integer("SELECT count(*) FROM bookings INDEXED BY bookings_without_block WHERE block_id IS NULL"), 1)
    }

    func testSchema11KeepsAnAppendOnlyAuditLogWithoutAnIndexByEntity() async throws {
        try await fixture.service("walk", minutes: 60)
        let block = try await fixture.block("2025-10-08", "09:00", "10:00", "Nine")
        try await fixture.capacity(block, "walk", 5)
        let ada = try await fixture.client("Ada")
        _ = try await fixture.store.createHold(for: ada, block: block.id, service: ServiceCode("walk"))

        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        defer { db.close() }
        XCTAssertEqual(try db.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'audit_by_entity'"), 0)
        XCTAssertEqual(
            try db.integer("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'audit_log'"), 0)
        // One entity's history, read the way docs/store.md shows.
        let holdID = try XCTUnwrap(try db.integer("SELECT hold_id FROM holds"))
        let events = try db.rows(
            "SELECT event FROM audit_log WHERE entity = 'hold' AND entity_id = ? ORDER BY audit_id",
            [.text(String(holdID))]) { $0.text(0) }
        XCTAssertEqual(events, ["hold.created"])
        XCTAssertThrowsError(try db.run("UPDATE audit_log SET event = 'x'"), "still append-only")
        XCTAssertThrowsError(try db.run("DELETE FROM audit_log"), "still append-only")
    }
}
