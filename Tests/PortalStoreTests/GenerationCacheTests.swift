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
            let generation = store.availabilityGeneration.current
            _ = try? await store.createHold(for: client, block: BlockID(rawValue: 999), service: walk)
            XCTAssertEqual(store.availabilityGeneration.current, generation)
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
