import NIOConcurrencyHelpers
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
    /// Where the call is counted (``Route/metricSlot``).
    package var metricSlot: Int
    /// When the server read the call's frame (its latency counts from here).
    package var receivedAt: NIODeadline

    /// Runs the call, bounded by its deadline, and hands the outcome to its
    /// connection.
    ///
    /// A call whose deadline passed before it starts never runs; one still
    /// running at its deadline is cancelled (by `deadlines`, within one of its
    /// ticks), and answered DEADLINE_EXCEEDED unless it still returned a
    /// response — a refusal that comes after the deadline is answered
    /// DEADLINE_EXCEEDED too (docs/protocol.md §6: past its deadline a call
    /// either reports what it did or DEADLINE_EXCEEDED).
    package func execute(deadlines: DeadlineWatch) async {
        let outcome: CallOutcome
        if let deadline = context.deadline {
            if deadline <= .now() {
                outcome = .failure(.deadlineExceeded)
            } else {
                // The handler in a task of its own, so that the watch can
                // cancel it; this task only waits for it (and passes on its
                // own cancellation, when the server stops waiting for calls).
                let (run, payload, context) = (self.run, self.payload, self.context)
                let handler = Task { await run(payload, context) }
                let watched = deadlines.watch(handler, until: deadline)
                let answered = await withTaskCancellationHandler {
                    await handler.value
                } onCancel: {
                    handler.cancel()
                }
                deadlines.forget(watched)
                if case .failure = answered, deadline <= .now() {
                    outcome = .failure(.deadlineExceeded)
                } else {
                    outcome = answered
                }
            }
        } else {
            outcome = await run(payload, context)
        }
        connection.complete(
            id: context.requestID, outcome: outcome, metricSlot: metricSlot, receivedAt: receivedAt)
    }
}

/// Cancels the handlers of calls still running past their deadline.
///
/// One repeating timer on an event loop looks at the calls in flight every
/// ``tick`` instead of one timer per call: scheduling and cancelling a timer
/// on an event loop from a Swift concurrency thread wakes that loop (an
/// `eventfd` write) twice per call, and the per-call task group that raced
/// the handler against its timer cost as much again — together about a
/// third of the CPU the cooperative threads spent per checkout call (perf).
/// A handler is cancelled at most one tick after its deadline.
package final class DeadlineWatch: Sendable {
    /// How often the calls in flight are looked at.
    package static let tick: TimeAmount = .milliseconds(10)

    private struct Entry {
        var deadline: NIODeadline
        var task: Task<CallOutcome, Never>
    }

    private struct State {
        var next: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        var timer: RepeatedTask?
    }

    private let state = NIOLockedValueBox(State())

    package init() {}

    /// Starts looking every ``tick``, on `eventLoop`.
    package func start(on eventLoop: any EventLoop) {
        let timer = eventLoop.scheduleRepeatedTask(initialDelay: Self.tick, delay: Self.tick) { [weak self] _ in
            self?.cancelOverdue()
        }
        state.withLockedValue { $0.timer = timer }
    }

    /// Stops looking (calls still running keep running).
    package func stop() {
        state.withLockedValue { state in
            state.timer?.cancel()
            state.timer = nil
        }
    }

    /// Watches `task` until ``forget(_:)``; returns the key to forget it by.
    package func watch(_ task: Task<CallOutcome, Never>, until deadline: NIODeadline) -> UInt64 {
        state.withLockedValue { state in
            state.next &+= 1
            state.entries[state.next] = Entry(deadline: deadline, task: task)
            return state.next
        }
    }

    /// Stops watching a call (it finished).
    package func forget(_ key: UInt64) {
        _ = state.withLockedValue { $0.entries.removeValue(forKey: key) }
    }

    private func cancelOverdue() {
        let now = NIODeadline.now()
        let overdue: [Task<CallOutcome, Never>] = state.withLockedValue { state in
            var overdue: [Task<CallOutcome, Never>] = []
            for (key, entry) in state.entries where entry.deadline <= now {
                overdue.append(entry.task)
                state.entries.removeValue(forKey: key)
            }
            return overdue
        }
        for task in overdue { task.cancel() }
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
