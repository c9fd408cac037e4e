import NIOCore

/// An asynchronous call accepted by a connection, waiting for the server's
/// task group to run it.
package struct PendingCall: Sendable {
    /// The handler.
    package var run: @Sendable ([UInt8], RequestContext) async -> CallOutcome
    /// The encoded request message.
    package var payload: [UInt8]
    /// The call's context (id, deadline, …).
    package var context: RequestContext
    /// Where the answer goes.
    package var connection: ConnectionHandle

    /// Runs the call, bounded by its deadline, and hands the outcome to its
    /// connection.
    ///
    /// A call whose deadline passed before it starts never runs; one still
    /// running at its deadline is cancelled, and answered DEADLINE_EXCEEDED
    /// unless it still returned a response.
    package func execute() async {
        let outcome: CallOutcome
        if let deadline = context.deadline {
            if deadline <= .now() {
                outcome = .failure(.deadlineExceeded)
            } else {
                outcome = await Self.run(
                    self.run, payload, context, cancellingAt: deadline, timerLoop: connection.eventLoop)
            }
        } else {
            outcome = await run(payload, context)
        }
        connection.complete(id: context.requestID, outcome: outcome)
    }

    private static func run(
        _ body: @Sendable @escaping ([UInt8], RequestContext) async -> CallOutcome,
        _ payload: [UInt8], _ context: RequestContext, cancellingAt deadline: NIODeadline,
        timerLoop: any EventLoop
    ) async -> CallOutcome {
        await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask { await body(payload, context) }
            group.addTask {
                await waitUntil(deadline, on: timerLoop)
                return nil
            }
            // The first non-nil result is the handler's; the timer's nil only
            // cancels it, and we still wait for what the handler says (it may
            // have committed just before noticing).
            while let next = await group.next() {
                if let outcome = next {
                    group.cancelAll()
                    return outcome
                }
                group.cancelAll()
            }
            return .failure(.deadlineExceeded)
        }
    }
}

/// Returns at `deadline`, or as soon as the calling task is cancelled.
///
/// Not `Task.sleep`: on Linux its Dispatch timer stays allocated until the
/// deadline even when the sleep is cancelled at once (≈ 530 bytes with its
/// job). Every call with a deadline waits like this and is cancelled when it
/// answers, so under load with the clients' 30-second timeouts the timers of
/// the last 30 seconds' calls stayed live: tens of MiB, and a heap too
/// fragmented to shrink afterwards. A cancelled NIO timer is removed from its
/// event loop and freed right away.
func waitUntil(_ deadline: NIODeadline, on eventLoop: any EventLoop) async {
    let timer = eventLoop.scheduleTask(deadline: deadline) {}
    await withTaskCancellationHandler {
        _ = try? await timer.futureResult.get()
    } onCancel: {
        timer.cancel()
    }
}

/// The hand-off from connections (on event loops) to the server's task group.
package final class CallQueue: Sendable {
    package let calls: AsyncStream<PendingCall>
    private let continuation: AsyncStream<PendingCall>.Continuation

    package init() {
        (calls, continuation) = AsyncStream.makeStream(of: PendingCall.self)
    }

    /// Queues a call. Returns false once the queue is closed (the server
    /// drains): the call must be answered SHUTTING_DOWN without running.
    package func submit(_ call: PendingCall) -> Bool {
        switch continuation.yield(call) {
        case .enqueued: true
        case .terminated, .dropped: false
        @unknown default: false
        }
    }

    /// Accepts no more calls; those already queued are still delivered.
    package func close() {
        continuation.finish()
    }
}
