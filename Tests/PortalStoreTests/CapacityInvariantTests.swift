import PortalDomain
import PortalStore
import XCTest

/// The capacity invariant: confirmed bookings + active holds ≤ capacity, for
/// every block and service, under concurrency, expiry and restarts.
final class CapacityInvariantTests: XCTestCase {
    private var fixture: StoreFixture!

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
        try await fixture.service("walk", minutes: 60)
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    func test200ConcurrentClientsOnCapacity5GetExactly5Holds() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 5)
        var clients: [ClientID] = []
        for index in 0..<200 { clients.append(try await fixture.client("Client \(index)")) }

        let store = fixture.store
        let walk = try ServiceCode("walk")
        let outcomes = await withTaskGroup(of: Result<HoldOutcome, PortalError>.self) { group in
            for client in clients {
                group.addTask {
                    do {
                        return .success(try await store.createHold(for: client, block: block.id, service: walk))
                    } catch let error as PortalError {
                        return .failure(error)
                    } catch {
                        return .failure(PortalError(.internal, .internalError, "\(error)"))
                    }
                }
            }
            var all: [Result<HoldOutcome, PortalError>] = []
            for await outcome in group { all.append(outcome) }
            return all
        }

        let holds = outcomes.compactMap { try? $0.get() }
        let refusals = outcomes.compactMap { result -> PortalError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        XCTAssertEqual(holds.count, 5)
        XCTAssertTrue(holds.allSatisfy(\.isNew))
        XCTAssertEqual(Set(holds.map(\.hold.client)).count, 5)
        XCTAssertEqual(Set(holds.map(\.hold.token)).count, 5)
        XCTAssertEqual(refusals.count, 195)
        XCTAssertTrue(refusals.allSatisfy { $0.reason == .capacityFull && $0.kind == .failedPrecondition })

        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 5)
        XCTAssertEqual(usage.booked, 0)
        XCTAssertEqual(usage.remaining, 0)
        let stored = try await store.activeHolds(in: block.id)
        XCTAssertEqual(stored.count, 5)
        XCTAssertEqual(try fixture.auditCount(event: "hold.created"), 5)
    }

    func testOneClientRacingItselfOnOneBlockGetsOneHold() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 5)
        let client = try await fixture.client()
        let store = fixture.store
        let walk = try ServiceCode("walk")

        let outcomes = try await withThrowingTaskGroup(of: HoldOutcome.self) { group in
            for _ in 0..<50 {
                group.addTask { try await store.createHold(for: client, block: block.id, service: walk) }
            }
            var all: [HoldOutcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        // Every retry returns the same live hold: one slot taken, never two.
        XCTAssertEqual(Set(outcomes.map(\.hold.token)).count, 1)
        XCTAssertEqual(outcomes.filter(\.isNew).count, 1)
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 1)
        XCTAssertEqual(usage.remaining, 4)
    }

    /// A retry gets back the client's own live hold on that block and
    /// service — never another client's, another block's or service's, an
    /// expired one (still `active` until purged) or a released one.
    func testARetryGetsOnlyTheClientsOwnLiveHoldOnThatBlockAndService() async throws {
        try await fixture.service("daycare", minutes: 60)
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let other = try await fixture.block("2025-10-08", "13:00", "15:00", "Afternoon")
        for (place, code) in [(block, "walk"), (block, "daycare"), (other, "walk")] {
            try await fixture.capacity(place, code, 5, allowOverlap: true)
        }
        let client = try await fixture.client("Retrying")
        let neighbour = try await fixture.client("Neighbour")

        let first = try await fixture.hold(client, block, "walk")
        let neighbours = try await fixture.hold(neighbour, block, "walk")
        let otherBlock = try await fixture.hold(client, other, "walk")
        let otherService = try await fixture.hold(client, block, "daycare")
        XCTAssertEqual(
            [first.isNew, neighbours.isNew, otherBlock.isNew, otherService.isNew], [true, true, true, true])
        XCTAssertEqual(
            Set([first, neighbours, otherBlock, otherService].map(\.hold.token)).count, 4)

        let retry = try await fixture.hold(client, block, "walk")
        XCTAssertFalse(retry.isNew)
        XCTAssertEqual(retry.hold.token, first.hold.token)

        // Expired (still `active` in the table until a purge): a new hold,
        // and a retry then gets the new one.
        fixture.clock.advance(bySeconds: 600)
        let afterExpiry = try await fixture.hold(client, block, "walk")
        XCTAssertTrue(afterExpiry.isNew)
        XCTAssertNotEqual(afterExpiry.hold.token, first.hold.token)
        let retryAfterExpiry = try await fixture.hold(client, block, "walk")
        XCTAssertFalse(retryAfterExpiry.isNew)
        XCTAssertEqual(retryAfterExpiry.hold.token, afterExpiry.hold.token)

        // Released: the next call takes a new hold.
        try await fixture.store.releaseUnpaidHold(afterExpiry.hold.token, of: client, reason: .cancelledByClient)
        let afterRelease = try await fixture.hold(client, block, "walk")
        XCTAssertTrue(afterRelease.isNew)
        XCTAssertEqual(Set([first, afterExpiry, afterRelease].map(\.hold.token)).count, 3)
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 1)
    }

    func testNoOverlapMeansOneHoldAcrossOverlappingBlocks() async throws {
        let morning = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let lateMorning = try await fixture.block("2025-10-08", "09:30", "11:00", "Late Morning")
        let afternoon = try await fixture.block("2025-10-08", "13:00", "16:00", "Afternoon")
        for block in [morning, lateMorning, afternoon] {
            try await fixture.capacity(block, "walk", 5, allowOverlap: false)
        }
        let client = try await fixture.client()
        let store = fixture.store
        let walk = try ServiceCode("walk")

        // Both attempts race; exactly one wins, the other is refused.
        async let first = Result { try await store.createHold(for: client, block: morning.id, service: walk) }
        async let second = Result { try await store.createHold(for: client, block: lateMorning.id, service: walk) }
        let results = await [first, second]
        XCTAssertEqual(results.filter { (try? $0.get()) != nil }.count, 1)
        let refusal = results.compactMap { result -> PortalError? in
            if case .failure(let error) = result { return error as? PortalError }
            return nil
        }
        XCTAssertEqual(refusal.map(\.reason), [.overlappingBooking])

        // Trying the same block again returns the held slot, not a second one.
        let winner = try results.compactMap { try? $0.get() }.first.unwrap()
        let retry = try await store.createHold(for: client, block: winner.hold.block, service: walk)
        XCTAssertEqual(retry.hold.token, winner.hold.token)
        XCTAssertFalse(retry.isNew)

        // A block that does not overlap is fine.
        let afternoonIsNew = try await fixture.hold(client, afternoon, "walk").isNew
        XCTAssertTrue(afternoonIsNew)
        let held = try await fixture.usage(morning, "walk").held + fixture.usage(lateMorning, "walk").held
        XCTAssertEqual(held, 1)
    }

    func testOverlapAllowedLetsOneHouseholdHoldOverlappingBlocks() async throws {
        let morning = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let lateMorning = try await fixture.block("2025-10-08", "09:30", "11:00", "Late Morning")
        try await fixture.capacity(morning, "walk", 5, allowOverlap: true)
        try await fixture.capacity(lateMorning, "walk", 5, allowOverlap: true)
        let client = try await fixture.client()
        let morningIsNew = try await fixture.hold(client, morning, "walk").isNew
        XCTAssertTrue(morningIsNew)
        let lateMorningIsNew = try await fixture.hold(client, lateMorning, "walk").isNew
        XCTAssertTrue(lateMorningIsNew)

        // But a block that forbids overlap refuses, whichever side it is on.
        let strict = try await fixture.block("2025-10-08", "10:00", "10:30", "Strict")
        try await fixture.capacity(strict, "walk", 5, allowOverlap: false)
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.fixture.hold(client, strict, "walk")
        }
    }

    func testConfirmedBookingsCountAndBlockOverlap() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 2)
        let alice = try await fixture.client("Alice")
        let bob = try await fixture.client("Bob")
        let carol = try await fixture.client("Carol")
        let walk = try ServiceCode("walk")
        _ = try await fixture.store.insertConfirmedBookingForTesting(
            for: alice, block: block.id, service: walk, paymentIntentID: "pi_alice")
        // Alice already has a booking there and overlap is not allowed.
        await assertPortalError(.failedPrecondition, .overlappingBooking) {
            try await self.fixture.hold(alice, block, "walk")
        }
        let bobIsNew = try await fixture.hold(bob, block, "walk").isNew
        XCTAssertTrue(bobIsNew)
        await assertPortalError(.failedPrecondition, .capacityFull) {
            try await self.fixture.hold(carol, block, "walk")
        }
        // The direct booking path obeys the invariant too.
        await assertPortalError(.failedPrecondition, .capacityFull) {
            try await self.fixture.store.insertConfirmedBookingForTesting(
                for: carol, block: block.id, service: walk, paymentIntentID: "pi_carol")
        }
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual([usage.booked, usage.held, usage.remaining], [1, 1, 0])
    }

    func testExpiredHoldsGiveTheRoomBackBeforeAnyPurgeAndPurgeRemovesThem() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 5)
        var holds: [HoldOutcome] = []
        for index in 0..<5 { holds.append(try await fixture.hold(try await fixture.client("C\(index)"), block, "walk")) }
        let late = try await fixture.client("Late")
        await assertPortalError(.failedPrecondition, .capacityFull) { try await self.fixture.hold(late, block, "walk") }
        XCTAssertEqual(holds[0].hold.expiresAt.unixSeconds - holds[0].hold.createdAt.unixSeconds, 600)

        // One second before expiry the holds still count.
        fixture.clock.advance(bySeconds: 599)
        let remainingJustBeforeExpiry = try await fixture.usage(block, "walk").remaining
        XCTAssertEqual(remainingJustBeforeExpiry, 0)

        // At expiry they stop counting — no purge has run.
        fixture.clock.advance(bySeconds: 1)
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual([usage.held, usage.remaining], [0, 5])
        let day = try await fixture.store.day(try LocalDate("2025-10-08"))
        XCTAssertEqual(day.first?.capacities.first?.remaining, 5)
        let listed = try await fixture.store.availableBlocks(on: try LocalDate("2025-10-08"), for: try ServiceCode("walk"))
        XCTAssertEqual(listed.map(\.remaining), [5])
        XCTAssertEqual(try fixture.snapshot()["holds"]?.count, 5)

        // The purge removes them, with one audit entry each.
        let purged = try await fixture.store.purgeExpiredHolds()
        XCTAssertEqual(purged, 5)
        XCTAssertEqual(try fixture.snapshot()["holds"]?.count, 0)
        XCTAssertEqual(try fixture.auditCount(event: "hold.expired"), 5)
        let purgedAgain = try await fixture.store.purgeExpiredHolds()
        XCTAssertEqual(purgedAgain, 0)

        // The client who was refused gets in now; an old token is gone.
        let lateIsNew = try await fixture.hold(late, block, "walk").isNew
        XCTAssertTrue(lateIsNew)
        await assertPortalError(.notFound, .holdNotFound) { try await self.fixture.store.hold(holds[0].hold.token) }
    }

    func testPurgeLeavesLiveHoldsAlone() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 5)
        _ = try await fixture.hold(try await fixture.client("Early"), block, "walk")
        fixture.clock.advance(bySeconds: 300)
        let live = try await fixture.hold(try await fixture.client("Later"), block, "walk")
        fixture.clock.advance(bySeconds: 301)  // the first has expired, the second has not
        let purged = try await fixture.store.purgeExpiredHolds()
        XCTAssertEqual(purged, 1)
        let remaining = try await fixture.store.activeHolds(in: block.id)
        XCTAssertEqual(remaining.map(\.token), [live.hold.token])
    }

    func testReopeningTheSameFileGivesIdenticalCounts() async throws {
        let morning = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let afternoon = try await fixture.block("2025-10-08", "13:00", "16:00", "Afternoon")
        try await fixture.service("daycare", minutes: 480)
        try await fixture.capacity(morning, "walk", 5)
        try await fixture.capacity(afternoon, "walk", 3)
        try await fixture.capacity(afternoon, "daycare", 2)
        for index in 0..<3 { _ = try await fixture.hold(try await fixture.client("W\(index)"), morning, "walk") }
        _ = try await fixture.hold(try await fixture.client("D"), afternoon, "daycare")
        _ = try await fixture.store.insertConfirmedBookingForTesting(
            for: try await fixture.client("B"), block: afternoon.id, service: try ServiceCode("walk"),
            paymentIntentID: "pi_1")
        let date = try LocalDate("2025-10-08")
        let before = try await fixture.store.day(date)
        let holdsBefore = try await fixture.store.activeHolds(in: morning.id)

        try await fixture.reopen()

        let after = try await fixture.store.day(date)
        XCTAssertEqual(after, before)
        let holdsAfter = try await fixture.store.activeHolds(in: morning.id)
        XCTAssertEqual(holdsAfter, holdsBefore)
        XCTAssertEqual(after.flatMap(\.capacities).map(\.remaining), [2, 1, 2])
        let schemaVersion = try await fixture.store.schemaVersion()
        XCTAssertEqual(schemaVersion, Migrations.latestVersion)
        // And the invariant still holds after the restart.
        for index in 0..<2 { _ = try await fixture.hold(try await fixture.client("X\(index)"), morning, "walk") }
        await assertPortalError(.failedPrecondition, .capacityFull) {
            try await self.fixture.hold(try await self.fixture.client("Y"), morning, "walk")
        }
    }

    func testLoweringCapacityBelowBookedKeepsBookingsAndShowsZero() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 3)
        for index in 0..<3 {
            _ = try await fixture.store.insertConfirmedBookingForTesting(
                for: try await fixture.client("C\(index)"), block: block.id, service: try ServiceCode("walk"),
                paymentIntentID: "pi_\(index)")
        }
        let lowered = try await fixture.capacity(block, "walk", 1)
        XCTAssertEqual([lowered.capacity, lowered.booked, lowered.remaining], [1, 3, 0])
        let bookingCount = try await fixture.store.bookings(on: try LocalDate("2025-10-08")).count
        XCTAssertEqual(bookingCount, 3)
        await assertPortalError(.failedPrecondition, .capacityFull) {
            try await self.fixture.hold(try await self.fixture.client("New"), block, "walk")
        }
    }

    func testStartedBlocksCannotBeHeld() async throws {
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 5)
        let client = try await fixture.client()
        // 09:00 BST on 8 October is 08:00 UTC.
        fixture.clock.set(to: fixture.calendar.instant(of: try LocalDate("2025-10-08"), at: try TimeOfDay("08:59")))
        let heldBeforeStart = try await fixture.hold(client, block, "walk").isNew
        XCTAssertTrue(heldBeforeStart)
        fixture.clock.set(to: Instant(unixSeconds: 1_759_910_400))  // 2025-10-08T08:00:00Z
        await assertPortalError(.failedPrecondition, .blockStarted) {
            try await self.fixture.hold(try await self.fixture.client("Late"), block, "walk")
        }
        // The client that held in time retries: it gets its live hold back,
        // no second slot.
        let retry = try await fixture.hold(client, block, "walk")
        XCTAssertFalse(retry.isNew)
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 1)
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

extension Optional {
    func unwrap(file: StaticString = #filePath, line: UInt = #line) throws -> Wrapped {
        guard let value = self else {
            XCTFail("unexpected nil", file: file, line: line)
            throw CancellationError()
        }
        return value
    }
}
