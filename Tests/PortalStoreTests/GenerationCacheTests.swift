@testable import PortalStore
import PortalDomain
import XCTest

/// The in-memory caches in front of the store (issue 6): a value is served
/// only while no write has committed since it was read, and only until its
/// time bound.
final class GenerationCacheTests: XCTestCase {
    func testAValueIsServedOnlyAtItsGenerationAndBeforeItsBound() {
        let cache = GenerationCache<String, Int>(limit: 10)
        cache.insert(1, for: "a", generation: 7, validUntil: 100)
        XCTAssertEqual(cache.value(for: "a", generation: 7, now: 99), 1)
        XCTAssertNil(cache.value(for: "a", generation: 8, now: 99))
        XCTAssertNil(cache.value(for: "a", generation: 7, now: 100))
        XCTAssertNil(cache.value(for: "b", generation: 7, now: 0))
    }

    func testAnOlderReadNeverReplacesANewerOne() {
        let cache = GenerationCache<String, Int>(limit: 10)
        cache.insert(2, for: "a", generation: 8, validUntil: .max)
        cache.insert(1, for: "a", generation: 7, validUntil: .max)
        XCTAssertEqual(cache.value(for: "a", generation: 8, now: 0), 2)
    }

    func testTheCacheStaysWithinItsLimit() {
        let cache = GenerationCache<Int, Int>(limit: 3)
        for key in 0..<10 { cache.insert(key, for: key, generation: 0, validUntil: .max) }
        XCTAssertLessThanOrEqual(cache.count, 3)
        XCTAssertEqual(cache.value(for: 9, generation: 0, now: 0), 9)
    }

    func testAValueWhoseGenerationDependsOnItIsServedOnlyAtThatGeneration() {
        let cache = GenerationCache<String, Int>(limit: 10)
        cache.insert(1, for: "a", generation: 7, validUntil: 100)
        cache.insert(2, for: "b", generation: 3, validUntil: 100)
        let current = [1: UInt64(7), 2: 4]
        XCTAssertEqual(cache.value(for: "a", now: 0) { current[$0]! }, 1)
        XCTAssertNil(cache.value(for: "b", now: 0) { current[$0]! }, "b's own generation moved on")
    }

    func testAdvancingOneScopeLeavesTheOthersAndEverythingAdvancesAll() throws {
        let generations = AvailabilityGenerations()
        let walk = try ServiceCode("walk")
        let daycare = try ServiceCode("daycare")
        let day = try LocalDate("2025-10-08")
        let scopes = (0..<40).flatMap { offset in
            [walk, daycare].map { AvailabilityScope(date: day.adding(days: offset), service: $0) }
        }
        let touched = scopes[0]
        let before = scopes.map(generations.current)
        generations.advance(.availability(of: touched))
        let after = scopes.map(generations.current)
        for (index, scope) in scopes.enumerated() {
            if scope.stripe == touched.stripe {
                XCTAssertGreaterThan(after[index], before[index], "\(scope) shares the touched stripe")
            } else {
                XCTAssertEqual(after[index], before[index], "\(scope) is not touched")
            }
        }
        XCTAssertLessThan(
            scopes.filter { $0.stripe == touched.stripe }.count, scopes.count / 4,
            "the dates and services spread over the stripes")
        generations.advance([.sessions])
        XCTAssertEqual(scopes.map(generations.current), after, "sessions are not availability")
        generations.advance(.availability)
        XCTAssertTrue(zip(scopes.map(generations.current), after).allSatisfy { $0 > $1 }, "everything advanced")
    }

    /// A hold or booking makes only its own date and service's kept answers
    /// stale; a change to a service or a block (a write that names
    /// everything) makes every one stale.
    func testAHoldMakesOnlyItsOwnDateAndServiceStale() async throws {
        let fixture = try await StoreFixture.make()
        do {
            let store = fixture.store
            try await fixture.service("walk", minutes: 60)
            try await fixture.service("daycare", minutes: 60)
            let walk = try ServiceCode("walk")
            let daycare = try ServiceCode("daycare")
            let monday = try LocalDate("2025-10-06")
            let block = try await fixture.block("2025-10-06", "09:00", "12:00", "Morning Run")
            try await fixture.capacity(block, "walk", 3)
            try await fixture.capacity(block, "daycare", 3)
            let client = try await fixture.client()
            // Dates whose (date, walk) falls in another stripe than the hold's.
            let held = AvailabilityScope(date: monday, service: walk)
            let otherDays = (1..<60).map { monday.adding(days: $0) }
                .filter { AvailabilityScope(date: $0, service: walk).stripe != held.stripe }.prefix(5)
            XCTAssertEqual(otherDays.count, 5)
            var others = [try await store.availabilitySnapshot(on: monday, for: daycare)]
            for day in otherDays { others.append(try await store.availabilitySnapshot(on: day, for: walk)) }
            let own = try await store.availabilitySnapshot(on: monday, for: walk)
            XCTAssertEqual(own.blocks.map(\.remaining), [3])

            _ = try await fixture.hold(client, block, "walk")
            XCTAssertFalse(store.isCurrent(own), "the held date and service is stale at once")
            let ownAfter = try await store.availabilitySnapshot(on: monday, for: walk)
            XCTAssertEqual(ownAfter.blocks.map(\.remaining), [2])
            for other in others where other.scope.stripe != held.stripe {
                XCTAssertTrue(store.isCurrent(other), "another date or service stays kept")
            }

            // A capacity change names everything.
            try await fixture.capacity(block, "daycare", 5)
            for other in others { XCTAssertFalse(store.isCurrent(other)) }
            let daycareAfter = try await store.availabilitySnapshot(on: monday, for: daycare)
            XCTAssertEqual(daycareAfter.blocks.map(\.remaining), [5])
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func testEveryWriteThatChangesRowsMakesASnapshotStaleBeforeTheWriterIsAnswered() async throws {
        let fixture = try await StoreFixture.make()
        do {
            let store = fixture.store
            try await fixture.service("walk", minutes: 60)
            let walk = try ServiceCode("walk")
            let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
            try await fixture.capacity(block, "walk", 3)
            let client = try await fixture.client()
            let date = try LocalDate("2025-10-08")

            let before = try await store.availabilitySnapshot(on: date, for: walk)
            XCTAssertEqual(before.blocks.map(\.remaining), [3])
            XCTAssertNil(before.validUntil)
            XCTAssertTrue(store.isCurrent(before))

            let hold = try await fixture.hold(client, block, "walk")
            XCTAssertFalse(store.isCurrent(before))
            let after = try await store.availabilitySnapshot(on: date, for: walk)
            XCTAssertEqual(after.blocks.map(\.remaining), [2])
            XCTAssertEqual(after.validUntil, hold.hold.expiresAt)

            // A refused write changes nothing, and keeps the snapshot current.
            let generation = store.availabilityGenerations.current(after.scope)
            _ = try? await store.createHold(for: client, block: BlockID(rawValue: 999), service: walk)
            XCTAssertEqual(store.availabilityGenerations.current(after.scope), generation)
            XCTAssertTrue(store.isCurrent(after))

            // Time alone: the hold expires.
            fixture.clock.set(to: hold.hold.expiresAt)
            XCTAssertFalse(store.isCurrent(after))
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }
}
