import Dispatch
import PortalDomain
@testable import PortalStore
import XCTest

private let testScope = AvailabilityScope(
    date: LocalDate(year: 2025, month: 10, day: 8)!, service: try! ServiceCode("walk"))

/// Availability reads that miss together share one read — never one that
/// began before a write the caller was already told about.
final class SnapshotFlightsTests: XCTestCase {
    private let key = SnapshotFlights.Key(
        date: LocalDate(year: 2025, month: 10, day: 8)!, service: try! ServiceCode("walk"))

    /// Starts `count` calls at `generation`; the first one's read waits for
    /// `release`. Returns the calls and the number of reads run.
    private func startCalls(
        _ flights: SnapshotFlights, count: Int, generation: UInt64, release: DispatchSemaphore,
        reads: Locked<Int>, isUsable: @escaping @Sendable (AvailabilitySnapshot) -> Bool = { _ in true }
    ) -> [Task<AvailabilitySnapshot, any Error>] {
        let key = self.key
        return (0..<count).map { _ in
            Task {
                try await flights.snapshot(for: key, generation: generation, isUsable: isUsable) {
                    let first = reads.withLock { reads in
                        reads += 1
                        return reads == 1
                    }
                    if first { await waitFor(release) }
                    return AvailabilitySnapshot(blocks: [], scope: testScope, generation: generation, validUntil: nil)
                }
            }
        }
    }

    func testCallsThatMissTogetherShareOneRead() async throws {
        let flights = SnapshotFlights()
        let release = DispatchSemaphore(value: 0)
        let reads = Locked(0)
        let calls = startCalls(flights, count: 40, generation: 7, release: release, reads: reads)
        try await waitUntil { flights.count == 1 && reads.withLock { $0 } == 1 }
        // Give the other calls time to arrive and join.
        try await Task.sleep(for: .milliseconds(100))
        release.signal()
        for call in calls {
            let answer = try await call.value
            XCTAssertEqual(answer.generation, 7)
        }
        XCTAssertEqual(reads.withLock { $0 }, 1, "every call shared the first one's read")
        XCTAssertEqual(flights.count, 0, "nothing left under way")
    }

    func testACallAfterAWriteNeverTakesAReadThatBeganBeforeIt() async throws {
        let flights = SnapshotFlights()
        let release = DispatchSemaphore(value: 0)
        let reads = Locked(0)
        let early = startCalls(flights, count: 1, generation: 7, release: release, reads: reads)
        try await waitUntil { reads.withLock { $0 } == 1 }
        // A write committed: generation 8. This call must read for itself
        // (were it to wait for the early read, that read ends in 0.5 s and
        // its answer fails the checks below).
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { release.signal() }
        let key = self.key
        let late = try await flights.snapshot(for: key, generation: 8, isUsable: { _ in true }) {
            reads.withLock { $0 += 1 }
            return AvailabilitySnapshot(blocks: [], scope: testScope, generation: 8, validUntil: nil)
        }
        XCTAssertEqual(late.generation, 8)
        XCTAssertEqual(reads.withLock { $0 }, 2)
        let earlyAnswer = try await early[0].value
        XCTAssertEqual(earlyAnswer.generation, 7)
    }

    func testACallReadsForItselfWhenTheSharedAnswerNoLongerHolds() async throws {
        let flights = SnapshotFlights()
        let release = DispatchSemaphore(value: 0)
        let reads = Locked(0)
        let calls = startCalls(
            flights, count: 2, generation: 3, release: release, reads: reads, isUsable: { _ in false })
        try await waitUntil { reads.withLock { $0 } == 1 }
        try await Task.sleep(for: .milliseconds(50))
        release.signal()
        for call in calls { _ = try await call.value }
        XCTAssertEqual(reads.withLock { $0 }, 2, "the joining call read again")
    }

    func testWhenTheReadingCallGivesUpTheOthersReadForThemselves() async throws {
        let flights = SnapshotFlights()
        let key = self.key
        let started = DispatchSemaphore(value: 0)
        let reads = Locked(0)
        let leader = Task {
            try await flights.snapshot(for: key, generation: 1, isUsable: { _ in true }) {
                reads.withLock { $0 += 1 }
                started.signal()
                try await Task.sleep(for: .seconds(30))
                return AvailabilitySnapshot(blocks: [], scope: testScope, generation: 1, validUntil: nil)
            }
        }
        await waitFor(started)
        let follower = Task {
            try await flights.snapshot(for: key, generation: 1, isUsable: { _ in true }) {
                reads.withLock { $0 += 1 }
                return AvailabilitySnapshot(blocks: [], scope: testScope, generation: 1, validUntil: nil)
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        leader.cancel()
        let answer = try await follower.value
        XCTAssertEqual(answer.generation, 1)
        XCTAssertEqual(reads.withLock { $0 }, 2)
        let leaderResult = await leader.result
        XCTAssertThrowsError(try leaderResult.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
    }

    func testAJoiningCallThatGivesUpStopsWaitingAtOnceAndReadsNothing() async throws {
        let flights = SnapshotFlights()
        let key = self.key
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let reads = Locked(0)
        let readEnded = Locked(false)
        let leader = Task {
            try await flights.snapshot(for: key, generation: 2, isUsable: { _ in true }) {
                reads.withLock { $0 += 1 }
                started.signal()
                await waitFor(release)
                readEnded.withLock { $0 = true }
                return AvailabilitySnapshot(blocks: [], scope: testScope, generation: 2, validUntil: nil)
            }
        }
        await waitFor(started)
        let joiners = (0..<2).map { _ in
            Task {
                try await flights.snapshot(for: key, generation: 2, isUsable: { _ in true }) {
                    reads.withLock { $0 += 1 }
                    return AvailabilitySnapshot(blocks: [], scope: testScope, generation: 2, validUntil: nil)
                }
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        // Should a joiner wait for the read after all, the read ends in 5 s
        // and the check below fails instead of the test hanging.
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) { release.signal() }
        for joiner in joiners { joiner.cancel() }
        for joiner in joiners {
            let result = await joiner.result
            XCTAssertThrowsError(try result.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        }
        XCTAssertFalse(readEnded.withLock { $0 }, "the cancelled calls ended while the read was under way")
        XCTAssertEqual(reads.withLock { $0 }, 1, "a cancelled call reads nothing of its own")
        release.signal()
        let answer = try await leader.value
        XCTAssertEqual(answer.generation, 2, "the reading call still gets its answer")
    }

    /// The store end to end: while calls keep missing together, every call
    /// made after a hold was answered counts that hold.
    func testEveryCallMadeAfterAHoldWasAnsweredCountsIt() async throws {
        let fixture = try await StoreFixture.make()
        do {
            try await fixture.service("walk", minutes: 30)
            let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
            try await fixture.capacity(block, "walk", 30, allowOverlap: true)
            let store = fixture.store
            let date = LocalDate(year: 2025, month: 10, day: 8)!
            let walk = try ServiceCode("walk")
            for taken in 1...12 {
                let client = try await fixture.client("Client \(taken)")
                // Reads racing the hold, some of which begin before it commits.
                let racing = (0..<16).map { _ in
                    Task { try await store.availabilitySnapshot(on: date, for: walk) }
                }
                _ = try await store.createHold(for: client, block: block.id, service: walk)
                let after = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<16 {
                        group.addTask {
                            try await store.availabilitySnapshot(on: date, for: walk).blocks[0].remaining
                        }
                    }
                    var seen: [Int] = []
                    for try await remaining in group { seen.append(remaining) }
                    return seen
                }
                XCTAssertEqual(Set(after), [30 - taken], "after \(taken) holds")
                for read in racing { _ = try await read.value }
            }
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    private func waitUntil(_ condition: @escaping () -> Bool) async throws {
        for _ in 0..<500 where !condition() {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertTrue(condition(), "timed out")
    }
}
