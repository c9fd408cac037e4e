import Dispatch
import PortalDomain
@testable import PortalStore
import XCTest

/// The lane the password KDF runs on: a cancelled caller (its call's
/// deadline passed) stops waiting at once, whether its work is running or
/// still queued behind others.
final class BlockingWorkLaneTests: XCTestCase {
    func testACancelledCallerStopsWaitingWhileItsWorkStillRuns() async throws {
        let lane = BlockingWorkLane(label: "test.lane", width: 1)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = Locked(false)
        let caller = Task {
            try await lane.run {
                started.signal()
                release.wait()
                finished.withLock { $0 = true }
                return 42
            }
        }
        await waitFor(started)
        releaseLater(release)
        caller.cancel()
        let result = await caller.result
        XCTAssertThrowsError(try result.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        XCTAssertFalse(finished.withLock { $0 }, "answered before the work ended")
        release.signal()

        // The slot comes back once the work ends: the next caller runs.
        let next = try await lane.run { 7 }
        XCTAssertEqual(next, 7)
        XCTAssertTrue(finished.withLock { $0 })
    }

    func testACancelledCallerStillInLineNeverRunsItsWork() async throws {
        let lane = BlockingWorkLane(label: "test.lane", width: 1)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let first = Task {
            try await lane.run {
                started.signal()
                release.wait()
                return 1
            }
        }
        await waitFor(started)
        releaseLater(release)
        let ran = Locked(false)
        let queued = Task {
            try await lane.run {
                ran.withLock { $0 = true }
                return 2
            }
        }
        // Let the second caller reach the lane's line, then give up on it.
        try await Task.sleep(for: .milliseconds(50))
        queued.cancel()
        let gaveUp = await queued.result
        XCTAssertThrowsError(try gaveUp.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        release.signal()
        let value = try await first.value
        XCTAssertEqual(value, 1)
        let after = try await lane.run { 3 }
        XCTAssertEqual(after, 3)
        XCTAssertFalse(ran.withLock { $0 }, "work of a caller that gave up in line is skipped")
    }

    /// Releases the blocked work after 5 s whatever happens, so that a lane
    /// that does not let cancelled callers go fails these tests instead of
    /// hanging them.
    private func releaseLater(_ release: DispatchSemaphore) {
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) { release.signal() }
    }
}
