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
    /// either reports what it did or DEADLINE_EXCEEDED). A call whose task
    /// is cancelled before it starts — the server stopped running calls at
    /// the end of the drain's grace period — never runs either, and is
    /// answered SHUTTING_DOWN: safe to retry (docs/protocol.md §8).
    package func execute(deadlines: DeadlineWatch) async {
        let outcome: CallOutcome
        if Task.isCancelled {
            outcome = .failure(RequestRejection.shuttingDown.rpcError)
        } else if let deadline = context.deadline {
            if deadline <= .now() {
                outcome = .failure(.deadlineExceeded)
            } else {
                // The handler runs in this task, which the watch cancels at
                // the deadline (as the server does when it stops waiting for
                // calls). A task of its own for the handler, awaited here,
                // cost ≈ 4 % of the server's CPU per checkout answer.
                let watched = deadlines.watchCurrentTask(until: deadline)
                let answered = await run(payload, context)
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
        var task: WatchedTask
    }

    /// A running call's task, kept only to cancel it. `UnsafeCurrentTask`
    /// holds a strong reference to the task, and `cancel()` may be called
    /// from any thread (also once the task has finished: then it does
    /// nothing); nothing else of it is used outside its task.
    private struct WatchedTask: @unchecked Sendable {
        let task: UnsafeCurrentTask
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

    /// Watches the calling task until ``forget(_:)``: cancels it once
    /// `deadline` has passed. Returns the key to forget it by.
    package func watchCurrentTask(until deadline: NIODeadline) -> UInt64 {
        withUnsafeCurrentTask { task in
            guard let task else { return 0 }  // not in a task: nothing to cancel
            return state.withLockedValue { state in
                state.next &+= 1
                state.entries[state.next] = Entry(deadline: deadline, task: WatchedTask(task: task))
                return state.next
            }
        }
    }

    /// Stops watching a call (it finished).
    package func forget(_ key: UInt64) {
        _ = state.withLockedValue { $0.entries.removeValue(forKey: key) }
    }

    private func cancelOverdue() {
        let now = NIODeadline.now()
        let overdue: [WatchedTask] = state.withLockedValue { state in
            var overdue: [WatchedTask] = []
            for (key, entry) in state.entries where entry.deadline <= now {
                overdue.append(entry.task)
                state.entries.removeValue(forKey: key)
            }
            return overdue
        }
        for watched in overdue { watched.task.cancel() }
    }
}

/// Room for at most a number of running calls: the server's loop takes a
/// slot before it starts a call, waiting while none is free; the call gives
/// it back once it has answered.
final class CallSlots: Sendable {
    private struct State {
        var free: Int
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: NIOLockedValueBox<State>

    init(limit: Int) {
        precondition(limit >= 1, "room for at least one call")
        state = NIOLockedValueBox(State(free: limit))
    }

    /// Takes a slot, waiting for one while none is free. One caller at a
    /// time (the server's loop).
    func take() async {
        let taken = state.withLockedValue { state in
            guard state.free > 0 else { return false }
            state.free -= 1
            return true
        }
        if taken { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let takenNow = state.withLockedValue { state in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiter = continuation
                return false
            }
            if takenNow { continuation.resume() }
        }
    }

    /// Gives a slot back: to the waiting caller of ``take()``, if any.
    func give() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLockedValue { state in
            guard let waiter = state.waiter else {
                state.free += 1
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
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
