import PortalMessages
import PortalWire

/// The bookkeeping of one client connection, as a pure state machine: which
/// calls are in flight (by request id), whether the connection still takes new
/// calls, and what to do when an answer, a timeout, a cancellation, a go-away
/// or the loss of the connection arrives.
///
/// It performs no I/O: each method returns what the caller must do (resume a
/// waiter, cancel a timer, close the channel). `Waiter` is the suspended
/// caller and `Timer` the scheduled deadline; both are generic so that the
/// machine can be tested without NIO or tasks.
///
/// A call's life: ``makeRequest()`` reserves an id; ``setTimer(_:for:)``
/// stores its deadline timer; the request is written; ``attach(_:to:)`` stores
/// the waiter. An outcome (``receive(_:)``, ``fail(_:with:)``,
/// ``connectionClosed()``) may arrive at any point after ``makeRequest()`` —
/// even before the waiter is attached, in which case it is kept until
/// ``attach(_:to:)`` collects it.
struct ConnectionStateMachine<Waiter, Timer> {
    /// Whether the connection takes new calls.
    enum Phase: Equatable {
        /// Takes new calls.
        case active
        /// The server said go-away (or answered SHUTTING_DOWN): calls in
        /// flight complete, new calls go to another connection.
        case draining
        /// Closed, or about to be: every call in flight has failed.
        case closed
    }

    /// The outcome of one call, for its waiter.
    typealias Outcome = Result<ResponseEnvelope, RPCError>

    /// What the caller must do after a call was resolved.
    struct Resolution {
        /// The waiter to resume with `outcome`; `nil` when it has not been
        /// attached yet (the outcome is then kept for ``attach(_:to:)``).
        var waiter: Waiter?
        /// The deadline timer to cancel, if any.
        var timer: Timer?
        /// The call's outcome.
        var outcome: Outcome
    }

    /// What the caller must do after an event.
    struct Effects {
        /// Calls to resume (or whose timers to cancel).
        var resolutions: [Resolution] = []
        /// True when the channel must now be closed.
        var closeConnection = false
    }

    fileprivate struct PendingCall {
        var waiter: Waiter?
        var timer: Timer?
        /// Set when the outcome arrived before the waiter was attached.
        var outcome: Outcome?
    }

    private(set) var phase: Phase = .active
    private var pending: [UInt64: PendingCall] = [:]
    /// Calls still waiting for an outcome (entries holding an early outcome
    /// do not count: they are finished, only not yet collected).
    private(set) var unresolvedCount = 0
    private var nextID: UInt64 = 1

    init() {}

    /// Reserves the id of a new call, or returns `nil` when this connection
    /// takes no new calls (draining or closed) and another must be used.
    /// Ids start at 1 and only grow, so they are never 0 and never reused.
    mutating func makeRequest() -> UInt64? {
        guard phase == .active else { return nil }
        let id = nextID
        nextID += 1
        pending[id] = PendingCall()
        unresolvedCount += 1
        return id
    }

    /// Stores the deadline timer of call `id`. Returns the timer back when
    /// the call has already been resolved, so the caller cancels it.
    mutating func setTimer(_ timer: Timer, for id: UInt64) -> Timer? {
        guard var call = pending[id], call.outcome == nil else { return timer }
        call.timer = timer
        pending[id] = call
        return nil
    }

    /// Attaches the waiter of call `id`. Returns the outcome when it already
    /// arrived: the caller resumes the waiter with it at once.
    mutating func attach(_ waiter: Waiter, to id: UInt64) -> Outcome? {
        guard var call = pending[id] else {
            // Unreachable: an entry is removed only once its waiter was attached.
            return .failure(RPCError(
                code: .internalError, reason: .internalError,
                message: "Client bookkeeping lost call \(id)."))
        }
        if let outcome = call.outcome {
            pending[id] = nil
            return outcome
        }
        call.waiter = waiter
        pending[id] = call
        return nil
    }

    /// Resolves call `id` locally (deadline passed, caller cancelled). A call
    /// already resolved is left as it is: the first outcome wins.
    mutating func fail(_ id: UInt64, with error: RPCError) -> Effects {
        var effects = Effects()
        if let resolution = resolve(id, .failure(error)) {
            effects.resolutions.append(resolution)
        }
        effects.closeConnection = closesWhenIdle()
        return effects
    }

    /// Handles a frame from the server.
    ///
    /// - An answer (id ≠ 0) resolves its call; an id no longer in flight (an
    ///   answer that arrived after its deadline) is dropped. An answer of
    ///   UNAVAILABLE with reason SHUTTING_DOWN also starts draining: the
    ///   server takes no new calls on this connection.
    /// - A go-away (id 0, reason GOAWAY) starts draining.
    /// - Any other frame with id 0 is fatal: every call in flight fails with
    ///   the error it carries, and the connection closes.
    mutating func receive(_ envelope: ResponseEnvelope) -> Effects {
        let status = envelope.status ?? Status()
        if envelope.id != 0 {
            var effects = Effects()
            let outcome: Outcome =
                status.code == StatusCode.ok.rawValue
                ? .success(envelope) : .failure(RPCError(status: status))
            if let resolution = resolve(envelope.id, outcome) {
                effects.resolutions.append(resolution)
            }
            if status.code == StatusCode.unavailable.rawValue,
                status.reason == ErrorReason.shuttingDown.rawValue, phase == .active
            {
                phase = .draining
            }
            effects.closeConnection = closesWhenIdle()
            return effects
        }
        if status.reason == ErrorReason.goAway.rawValue {
            if phase == .active { phase = .draining }
            return Effects(closeConnection: closesWhenIdle())
        }
        if status.code == StatusCode.ok.rawValue {
            // Not a frame the protocol defines; nothing to act on.
            return Effects()
        }
        return failAll(with: RPCError(status: status))
    }

    /// The connection can no longer be read (malformed frame from the server,
    /// or the client is shutting down): fails every call in flight with
    /// `error` and closes.
    mutating func failAll(with error: RPCError) -> Effects {
        let wasClosed = phase == .closed
        phase = .closed
        var effects = Effects(closeConnection: !wasClosed)
        for id in pending.keys.sorted() {
            if let resolution = resolve(id, .failure(error)) {
                effects.resolutions.append(resolution)
            }
        }
        return effects
    }

    /// The channel closed: every call still in flight fails with
    /// UNAVAILABLE / CONNECTION_LOST. They are not retried: they may have run.
    mutating func connectionClosed() -> Effects {
        var effects = failAll(with: .connectionLost)
        effects.closeConnection = false
        return effects
    }

    /// Stops taking new calls; the connection closes once the calls in flight
    /// have completed (at once when there are none).
    mutating func startDraining() -> Effects {
        if phase == .active { phase = .draining }
        return Effects(closeConnection: closesWhenIdle())
    }

    private mutating func resolve(_ id: UInt64, _ outcome: Outcome) -> Resolution? {
        guard var call = pending[id], call.outcome == nil else { return nil }
        unresolvedCount -= 1
        if let waiter = call.waiter {
            pending[id] = nil
            return Resolution(waiter: waiter, timer: call.timer, outcome: outcome)
        }
        let timer = call.timer
        call.timer = nil
        call.outcome = outcome
        pending[id] = call
        return Resolution(waiter: nil, timer: timer, outcome: outcome)
    }

    /// A draining connection with nothing left in flight closes.
    private func closesWhenIdle() -> Bool {
        phase == .draining && unresolvedCount == 0
    }
}

extension ConnectionStateMachine: Sendable where Waiter: Sendable, Timer: Sendable {}
extension ConnectionStateMachine.PendingCall: Sendable where Waiter: Sendable, Timer: Sendable {}
extension ConnectionStateMachine.Resolution: Sendable where Waiter: Sendable, Timer: Sendable {}
extension ConnectionStateMachine.Effects: Sendable where Waiter: Sendable, Timer: Sendable {}
