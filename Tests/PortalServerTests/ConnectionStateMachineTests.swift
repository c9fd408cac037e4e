import NIOCore
import PortalMessages
import PortalWire
import XCTest

@testable import PortalServer

final class ConnectionStateMachineTests: XCTestCase {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private let idle = TimeAmount.seconds(60)
    private let frameTimeout = TimeAmount.seconds(10)

    private func machine(maxInFlight: Int = 2) -> ConnectionStateMachine {
        ConnectionStateMachine(
            configuration: .init(maxInFlight: maxInFlight, idleTimeout: idle, frameTimeout: frameTimeout),
            now: start)
    }

    // MARK: Requests

    func testRequestWithIdZeroIsRejected() {
        var machine = machine()
        XCTAssertEqual(machine.receivedRequest(id: 0, runsInline: false, servesWhileDraining: false), .reject(.invalidRequestID))
        XCTAssertEqual(RequestRejection.invalidRequestID.rpcError.code, .invalidArgument)
    }

    func testAsyncRequestIsInFlightUntilCompleted() {
        var machine = machine()
        XCTAssertEqual(machine.receivedRequest(id: 7, runsInline: false, servesWhileDraining: false), .run)
        XCTAssertEqual(machine.inFlight, [7])
        XCTAssertEqual(machine.requestCompleted(id: 7, now: start), .write)
        XCTAssertTrue(machine.inFlight.isEmpty)
    }

    func testDuplicateInFlightIdIsRejectedAndTheFirstKeepsRunning() {
        var machine = machine()
        XCTAssertEqual(machine.receivedRequest(id: 7, runsInline: false, servesWhileDraining: false), .run)
        XCTAssertEqual(machine.receivedRequest(id: 7, runsInline: false, servesWhileDraining: false), .reject(.duplicateRequestID(7)))
        XCTAssertEqual(machine.receivedRequest(id: 7, runsInline: true, servesWhileDraining: false), .reject(.duplicateRequestID(7)))
        XCTAssertEqual(machine.inFlight, [7])
        XCTAssertEqual(RequestRejection.duplicateRequestID(7).rpcError.reason, .duplicateRequestId)
    }

    func testIdCanBeReusedOnceCompleted() {
        var machine = machine()
        _ = machine.receivedRequest(id: 7, runsInline: false, servesWhileDraining: false)
        _ = machine.requestCompleted(id: 7, now: start)
        XCTAssertEqual(machine.receivedRequest(id: 7, runsInline: false, servesWhileDraining: false), .run)
    }

    func testInlineRequestsNeverOccupyASlot() {
        var machine = machine(maxInFlight: 1)
        XCTAssertEqual(machine.receivedRequest(id: 1, runsInline: false, servesWhileDraining: false), .run)
        for id in 2...10 as ClosedRange<UInt64> {
            XCTAssertEqual(machine.receivedRequest(id: id, runsInline: true, servesWhileDraining: false), .run)
        }
        XCTAssertEqual(machine.inFlight, [1])
    }

    func testInFlightCapRejectsWithResourceExhausted() {
        var machine = machine(maxInFlight: 2)
        XCTAssertEqual(machine.receivedRequest(id: 1, runsInline: false, servesWhileDraining: false), .run)
        XCTAssertEqual(machine.receivedRequest(id: 2, runsInline: false, servesWhileDraining: false), .run)
        XCTAssertEqual(machine.receivedRequest(id: 3, runsInline: false, servesWhileDraining: false), .reject(.tooManyInFlight(limit: 2)))
        let error = RequestRejection.tooManyInFlight(limit: 2).rpcError
        XCTAssertEqual(error.code, .resourceExhausted)
        XCTAssertEqual(error.reason, .tooManyInFlight)
        _ = machine.requestCompleted(id: 1, now: start)
        XCTAssertEqual(machine.receivedRequest(id: 3, runsInline: false, servesWhileDraining: false), .run)
    }

    // MARK: Drain

    func testDrainSendsGoAwayOnceAndRefusesNewRequestsExceptThoseServingWhileDraining() {
        var machine = machine()
        _ = machine.receivedRequest(id: 1, runsInline: false, servesWhileDraining: false)
        XCTAssertTrue(machine.beginDrain())
        XCTAssertFalse(machine.beginDrain())
        XCTAssertTrue(machine.isDraining)
        XCTAssertEqual(machine.receivedRequest(id: 2, runsInline: false, servesWhileDraining: false), .reject(.shuttingDown))
        XCTAssertEqual(machine.receivedRequest(id: 3, runsInline: true, servesWhileDraining: true), .run)
        // The request already running still gets its answer written.
        XCTAssertEqual(machine.requestCompleted(id: 1, now: start), .write)
        let error = RequestRejection.shuttingDown.rpcError
        XCTAssertEqual(error.code, .unavailable)
        XCTAssertEqual(error.reason, .shuttingDown)
    }

    func testCloseRequestedDropsLaterAnswersAndIgnoresRequests() {
        var machine = machine()
        _ = machine.receivedRequest(id: 1, runsInline: false, servesWhileDraining: false)
        XCTAssertTrue(machine.closeRequested())
        XCTAssertFalse(machine.closeRequested())
        XCTAssertEqual(machine.requestCompleted(id: 1, now: start), .drop)
        XCTAssertEqual(machine.receivedRequest(id: 2, runsInline: true, servesWhileDraining: true), .ignore)
        XCTAssertFalse(machine.beginDrain())
    }

    // MARK: Protocol violations

    func testProtocolViolationSendsOneFinalFrameThenIgnoresEverything() {
        var machine = machine()
        XCTAssertEqual(machine.protocolViolation(.frame(.zeroLength)), .sendFinalFrameAndClose(.frame(.zeroLength)))
        XCTAssertEqual(machine.protocolViolation(.malformedEnvelope(ProtoDecodingError(kind: .malformed))), .none)
        XCTAssertEqual(machine.receivedRequest(id: 1, runsInline: false, servesWhileDraining: false), .ignore)
        XCTAssertFalse(machine.readRequested())
    }

    func testCloseReasonsCarryTheirWireReasons() {
        XCTAssertEqual(
            ConnectionCloseReason.malformedEnvelope(ProtoDecodingError(kind: .malformed)).rpcError.reason, .malformedFrame)
        XCTAssertEqual(ConnectionCloseReason.frame(.zeroLength).rpcError.reason, .malformedFrame)
        XCTAssertEqual(ConnectionCloseReason.frame(.tooLarge(length: 9, maximum: 8)).rpcError.reason, .frameTooLarge)
        XCTAssertEqual(ConnectionCloseReason.idleTimeout(idle).rpcError.reason, .idleTimeout)
        XCTAssertEqual(ConnectionCloseReason.frameTimeout(frameTimeout).rpcError.reason, .frameTimeout)
    }

    // MARK: Frame timer

    func testPartialFrameSchedulesOneCheckAtTheFrameTimeout() {
        var machine = machine()
        XCTAssertEqual(
            machine.readBurstCompleted(now: start, completedFrames: false, hasPartialFrame: true),
            .scheduleCheck(start + frameTimeout))
        // More bytes of the same frame: the running check stays.
        XCTAssertEqual(
            machine.readBurstCompleted(now: start + .seconds(3), completedFrames: false, hasPartialFrame: true),
            .none)
        XCTAssertEqual(machine.frameTimerFired(now: start + frameTimeout), .close(.frameTimeout(frameTimeout)))
        XCTAssertTrue(machine.isClosing)
    }

    func testFrameThatCompletesInTimeCancelsTheTimeout() {
        var machine = machine()
        _ = machine.readBurstCompleted(now: start, completedFrames: false, hasPartialFrame: true)
        XCTAssertEqual(
            machine.readBurstCompleted(now: start + .seconds(1), completedFrames: true, hasPartialFrame: false),
            .none)
        XCTAssertEqual(machine.frameTimerFired(now: start + frameTimeout), .none)
        XCTAssertFalse(machine.isClosing)
    }

    func testNewPartialFrameAfterACompletedOneGetsItsOwnWindow() {
        var machine = machine()
        _ = machine.readBurstCompleted(now: start, completedFrames: false, hasPartialFrame: true)
        let later = start + .seconds(8)
        XCTAssertEqual(machine.readBurstCompleted(now: later, completedFrames: true, hasPartialFrame: true), .none)
        // The first check finds the new frame still within its window and re-arms.
        XCTAssertEqual(machine.frameTimerFired(now: start + frameTimeout), .scheduleCheck(later + frameTimeout))
        XCTAssertEqual(machine.frameTimerFired(now: later + frameTimeout), .close(.frameTimeout(frameTimeout)))
    }

    func testTheFrameClockStopsWhileTheServerHoldsOffReading() {
        var machine = machine()
        _ = machine.readBurstCompleted(now: start, completedFrames: true, hasPartialFrame: true)
        // The peer stops reading its answers: the server stops reading too,
        // half-way through a frame that cannot arrive until it resumes.
        XCTAssertFalse(machine.writabilityChanged(isWritable: false, now: start + .seconds(1)))
        XCTAssertFalse(machine.readRequested())
        XCTAssertEqual(
            machine.frameTimerFired(now: start + frameTimeout), .scheduleCheck(start + frameTimeout + frameTimeout))
        XCTAssertFalse(machine.isClosing, "a slow reader is not a slowloris")
        // Reading resumes at 15 s: the frame gets a whole timeout from then.
        let resumed = start + .seconds(15)
        XCTAssertTrue(machine.writabilityChanged(isWritable: true, now: resumed))
        XCTAssertEqual(machine.frameTimerFired(now: start + frameTimeout + frameTimeout), .scheduleCheck(resumed + frameTimeout))
        XCTAssertEqual(machine.frameTimerFired(now: resumed + frameTimeout), .close(.frameTimeout(frameTimeout)))
    }

    func testAPeerThatNeverReadsItsAnswersMeetsTheIdleTimeout() {
        var machine = machine()
        _ = machine.readBurstCompleted(now: start, completedFrames: true, hasPartialFrame: true)
        _ = machine.writabilityChanged(isWritable: false, now: start)
        XCTAssertEqual(machine.idleTimerFired(now: start + idle), .close(.idleTimeout(idle)))
    }

    func testAnswersStillGoingOutToASlowReaderAreNotIdleness() {
        var machine = machine()
        _ = machine.readBurstCompleted(now: start, completedFrames: true, hasPartialFrame: false)
        _ = machine.writabilityChanged(isWritable: false, now: start)
        // The first check that finds answers waiting gives the peer a whole timeout.
        XCTAssertEqual(machine.idleTimerFired(now: start + idle, unsentBytes: 90_000), .scheduleCheck(start + idle + idle))
        // Fewer wait at each check: the peer reads, slowly.
        XCTAssertEqual(
            machine.idleTimerFired(now: start + idle * 2, unsentBytes: 40_000), .scheduleCheck(start + idle * 3))
        // Then the last of them go out: the connection is idle from then on.
        XCTAssertEqual(machine.idleTimerFired(now: start + idle * 3, unsentBytes: 0), .scheduleCheck(start + idle * 4))
        XCTAssertEqual(machine.idleTimerFired(now: start + idle * 4, unsentBytes: 0), .close(.idleTimeout(idle)))
    }

    func testAPeerThatStopsReadingItsAnswersMeetsTheIdleTimeout() {
        var machine = machine()
        _ = machine.readBurstCompleted(now: start, completedFrames: true, hasPartialFrame: false)
        _ = machine.writabilityChanged(isWritable: false, now: start)
        XCTAssertEqual(machine.idleTimerFired(now: start + idle, unsentBytes: 90_000), .scheduleCheck(start + idle * 2))
        XCTAssertEqual(machine.idleTimerFired(now: start + idle * 2, unsentBytes: 90_000), .close(.idleTimeout(idle)))
        // More answers queued since (larger than before) are not progress either.
        var other = self.machine()
        XCTAssertEqual(other.idleTimerFired(now: start + idle, unsentBytes: 10), .scheduleCheck(start + idle * 2))
        XCTAssertEqual(other.idleTimerFired(now: start + idle * 2, unsentBytes: 20), .close(.idleTimeout(idle)))
    }

    // MARK: Idle timer

    func testIdleConnectionIsClosedAtTheIdleTimeout() {
        var machine = machine()
        XCTAssertEqual(machine.idleCheckDeadline, start + idle)
        XCTAssertEqual(machine.idleTimerFired(now: start + idle), .close(.idleTimeout(idle)))
    }

    func testActivityPostponesTheIdleTimeout() {
        var machine = machine()
        let later = start + .seconds(30)
        _ = machine.readBurstCompleted(now: later, completedFrames: true, hasPartialFrame: false)
        XCTAssertEqual(machine.idleTimerFired(now: start + idle), .scheduleCheck(later + idle))
        XCTAssertEqual(machine.idleTimerFired(now: later + idle), .close(.idleTimeout(idle)))
    }

    func testConnectionWithRequestsInFlightIsNotIdle() {
        var machine = machine()
        _ = machine.receivedRequest(id: 1, runsInline: false, servesWhileDraining: false)
        XCTAssertEqual(machine.idleTimerFired(now: start + idle), .scheduleCheck(start + idle + idle))
        let done = start + idle + .seconds(1)
        _ = machine.requestCompleted(id: 1, now: done)
        XCTAssertEqual(machine.idleTimerFired(now: start + idle + idle), .scheduleCheck(done + idle))
    }

    func testTimersDoNothingOnceClosing() {
        var machine = machine()
        _ = machine.closeRequested()
        XCTAssertEqual(machine.idleTimerFired(now: start + idle), .none)
        XCTAssertEqual(machine.frameTimerFired(now: start + idle), .none)
        XCTAssertEqual(machine.readBurstCompleted(now: start, completedFrames: false, hasPartialFrame: true), .none)
    }

    // MARK: Backpressure

    func testReadsAreHeldWhileNotWritableAndResumedOnce() {
        var machine = machine()
        XCTAssertTrue(machine.readRequested())
        XCTAssertFalse(machine.writabilityChanged(isWritable: false, now: start))
        XCTAssertFalse(machine.readRequested())
        XCTAssertTrue(machine.writabilityChanged(isWritable: true, now: start))
        // Only one held read is released.
        XCTAssertFalse(machine.writabilityChanged(isWritable: true, now: start))
        XCTAssertTrue(machine.readRequested())
    }

    func testWritableAgainWithoutAHeldReadIssuesNothing() {
        var machine = machine()
        _ = machine.writabilityChanged(isWritable: false, now: start)
        XCTAssertFalse(machine.writabilityChanged(isWritable: true, now: start))
    }

    func testHeldReadIsNotReleasedAfterClose() {
        var machine = machine()
        _ = machine.writabilityChanged(isWritable: false, now: start)
        _ = machine.readRequested()
        machine.channelClosed()
        XCTAssertFalse(machine.writabilityChanged(isWritable: true, now: start))
    }
}
