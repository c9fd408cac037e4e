import NIOCore
import PortalMessages
import PortalWire

/// Why a connection is closed by the server. Each is announced to the peer in
/// one final frame with id 0 before the connection closes.
package enum ConnectionCloseReason: Sendable, Equatable {
    /// The byte stream could not be split into frames (zero or oversized length).
    case frame(FrameError)
    /// A whole frame arrived that is not a `RequestEnvelope` — not protobuf,
    /// or a `method` or `metadata` string that is not UTF-8 without NUL.
    case malformedEnvelope(ProtoDecodingError)
    /// Nothing arrived for the idle timeout while no request was in flight.
    case idleTimeout(TimeAmount)
    /// A frame did not arrive whole within the frame timeout.
    case frameTimeout(TimeAmount)

    /// The status sent in the final frame.
    package var rpcError: RPCError {
        switch self {
        case .frame(let error):
            error.rpcError
        case .malformedEnvelope(let error):
            RPCError(
                code: .invalidArgument, reason: .malformedFrame,
                message: "Frame is not a valid RequestEnvelope: \(error).",
                details: error.field.map { ["field": $0] } ?? [:])
        case .idleTimeout(let timeout):
            RPCError(
                code: .unavailable, reason: .idleTimeout,
                message: "Connection closed after \(timeout.nanoseconds / 1_000_000) ms without activity.")
        case .frameTimeout(let timeout):
            RPCError(
                code: .deadlineExceeded, reason: .frameTimeout,
                message: "Frame did not arrive whole within \(timeout.nanoseconds / 1_000_000) ms.")
        }
    }
}

/// Why one request is answered with an error without running. The connection
/// stays open.
package enum RequestRejection: Sendable, Equatable {
    /// The request's id is 0, which the protocol reserves for the server's own frames.
    case invalidRequestID
    /// The id is still in flight on this connection; the first request keeps running.
    case duplicateRequestID(UInt64)
    /// The connection already has `limit` requests in flight.
    case tooManyInFlight(limit: Int)
    /// The server is draining; the request did not run and is safe to retry.
    case shuttingDown
    /// The deadline passed before the request could start; it did not run.
    case deadlineExceeded

    /// The status of the answer.
    package var rpcError: RPCError {
        switch self {
        case .invalidRequestID:
            RPCError(
                code: .invalidArgument, reason: .invalidRequestId,
                message: "Request id must not be 0.", details: ["field": "id"])
        case .duplicateRequestID(let id):
            RPCError(
                code: .invalidArgument, reason: .duplicateRequestId,
                message: "Request id \(id) is already in flight on this connection.",
                details: ["field": "id"])
        case .tooManyInFlight(let limit):
            RPCError(
                code: .resourceExhausted, reason: .tooManyInFlight,
                message: "Too many requests in flight on this connection (limit \(limit)).",
                details: ["max_in_flight": String(limit)])
        case .shuttingDown:
            RPCError(
                code: .unavailable, reason: .shuttingDown,
                message: "Server is shutting down; the request did not run and may be retried.")
        case .deadlineExceeded:
            RPCError(
                code: .deadlineExceeded, reason: .deadlineExceeded,
                message: "Deadline passed before the request started; it did not run.")
        }
    }
}

/// The rules of one server connection, free of I/O: the ``ConnectionHandler``
/// feeds it events and carries out the actions it returns.
///
/// It tracks the requests in flight (ids unique, count capped), the drain
/// phase, the idle and frame timers (as deadlines the handler schedules
/// checks for) and whether reading is paused by backpressure.
package struct ConnectionStateMachine: Sendable {
    /// The limits the machine enforces.
    package struct Configuration: Sendable, Equatable {
        /// Requests that may be in flight at once.
        package var maxInFlight: Int
        /// How long a connection without requests in flight may stay silent.
        package var idleTimeout: TimeAmount
        /// How long a frame may take to arrive whole once it has started.
        package var frameTimeout: TimeAmount

        package init(maxInFlight: Int, idleTimeout: TimeAmount, frameTimeout: TimeAmount) {
            self.maxInFlight = maxInFlight
            self.idleTimeout = idleTimeout
            self.frameTimeout = frameTimeout
        }
    }

    /// Where the connection is in its life.
    package enum Phase: Sendable, Equatable {
        /// Serving requests.
        case active
        /// The server is shutting down: go-away sent; only requests that serve
        /// while draining (health checks) still run.
        case draining
        /// A final frame was sent (or the server is closing it); nothing more is read or answered.
        case closing
        /// The channel is closed.
        case closed
    }

    /// What to do with a request that arrived.
    package enum RequestAction: Sendable, Equatable {
        /// Run it; for an asynchronous request the id is now in flight until
        /// ``requestCompleted(id:now:)``.
        case run
        /// Answer it at once with the rejection's error.
        case reject(RequestRejection)
        /// Ignore it: the connection is closing.
        case ignore
    }

    /// What to do with the answer of a request that completed.
    package enum CompletionAction: Sendable, Equatable {
        /// Write it.
        case write
        /// Drop it: the connection is closing or closed.
        case drop
    }

    /// What a timer check asks for.
    package enum TimerAction: Sendable, Equatable {
        /// Nothing to do; no new check is needed.
        case none
        /// Check again at this time.
        case scheduleCheck(NIODeadline)
        /// Send the final frame for this reason and close.
        case close(ConnectionCloseReason)
    }

    /// What to do after a fatal protocol event.
    package enum CloseAction: Sendable, Equatable {
        /// Write one frame id 0 with the reason's status, flush, then close.
        case sendFinalFrameAndClose(ConnectionCloseReason)
        /// Nothing: the connection is already closing.
        case none
    }

    package let configuration: Configuration
    package private(set) var phase: Phase = .active
    /// Ids of asynchronous requests running now.
    package private(set) var inFlight: Set<UInt64> = []
    /// When bytes last arrived or a request last completed.
    private var lastActivity: NIODeadline
    /// When the first bytes of the frame now incomplete arrived.
    private var partialFrameSince: NIODeadline?
    private var frameCheckScheduled = false
    private var isWritable = true
    private var readPending = false
    /// The answers' bytes waiting to go out at the last idle check, if any.
    private var unsentBytesAtLastCheck: Int?
    /// The peer has finished sending (it shut down its side: half-close).
    private var peerFinishedSending = false

    /// A machine for a connection that became active at `now`; the handler
    /// schedules the first idle check at ``idleCheckDeadline``.
    package init(configuration: Configuration, now: NIODeadline) {
        self.configuration = configuration
        self.lastActivity = now
    }

    /// The first idle check is due at this time.
    package var idleCheckDeadline: NIODeadline { lastActivity + configuration.idleTimeout }

    /// True once the connection no longer reads or answers.
    package var isClosing: Bool { phase == .closing || phase == .closed }

    /// True while the server drains and this connection has been told so.
    package var isDraining: Bool { phase == .draining }

    // MARK: Requests

    /// A request envelope with `id` arrived.
    ///
    /// - Parameters:
    ///   - runsInline: the handler completes before returning (it never
    ///     occupies an in-flight slot).
    ///   - servesWhileDraining: the method still runs while the server drains
    ///     (health checks).
    package mutating func receivedRequest(
        id: UInt64, runsInline: Bool, servesWhileDraining: Bool
    ) -> RequestAction {
        switch phase {
        case .closing, .closed:
            return .ignore
        case .draining where !servesWhileDraining:
            return .reject(.shuttingDown)
        case .active, .draining:
            break
        }
        if id == 0 { return .reject(.invalidRequestID) }
        if inFlight.contains(id) { return .reject(.duplicateRequestID(id)) }
        if runsInline { return .run }
        if inFlight.count >= configuration.maxInFlight {
            return .reject(.tooManyInFlight(limit: configuration.maxInFlight))
        }
        inFlight.insert(id)
        return .run
    }

    /// A request accepted to run inline (``receivedRequest(id:runsInline:servesWhileDraining:)``
    /// with `runsInline`) could not be answered inline and continues
    /// asynchronously: it now takes an in-flight slot, within the cap.
    package mutating func continuesAsynchronously(id: UInt64) -> RequestAction {
        if isClosing { return .ignore }
        if inFlight.count >= configuration.maxInFlight {
            return .reject(.tooManyInFlight(limit: configuration.maxInFlight))
        }
        inFlight.insert(id)
        return .run
    }

    /// The asynchronous request `id` finished at `now`; its id is free again.
    package mutating func requestCompleted(id: UInt64, now: NIODeadline) -> CompletionAction {
        inFlight.remove(id)
        lastActivity = now
        return isClosing ? .drop : .write
    }

    // MARK: Reading and timers

    /// A burst of reads ended.
    ///
    /// - Parameters:
    ///   - now: when the burst's bytes arrived.
    ///   - completedFrames: whether at least one whole frame was taken from the burst.
    ///   - hasPartialFrame: whether an incomplete frame is left buffered.
    /// - Returns: a frame-timer check to schedule, if one is needed.
    package mutating func readBurstCompleted(
        now: NIODeadline, completedFrames: Bool, hasPartialFrame: Bool
    ) -> TimerAction {
        lastActivity = now
        guard !isClosing else { return .none }
        guard hasPartialFrame else {
            partialFrameSince = nil
            return .none
        }
        // A frame that completed means the partial bytes left belong to a new frame.
        if partialFrameSince == nil || completedFrames {
            partialFrameSince = now
        }
        if frameCheckScheduled { return .none }
        frameCheckScheduled = true
        return .scheduleCheck(partialFrameSince! + configuration.frameTimeout)
    }

    /// The frame-timer check scheduled earlier is due.
    ///
    /// While the server itself holds off reading (the peer does not read its
    /// answers: backpressure), the rest of a frame cannot arrive, so the
    /// frame's clock does not run: it starts again when reading resumes
    /// (``writabilityChanged(isWritable:now:)``). A slow reader is not a
    /// slowloris; one that stays away long enough meets the idle timeout.
    package mutating func frameTimerFired(now: NIODeadline) -> TimerAction {
        frameCheckScheduled = false
        guard !isClosing, let since = partialFrameSince else { return .none }
        if !isWritable {
            frameCheckScheduled = true
            return .scheduleCheck(now + configuration.frameTimeout)
        }
        let due = since + configuration.frameTimeout
        if due <= now {
            return close(.frameTimeout(configuration.frameTimeout))
        }
        frameCheckScheduled = true
        return .scheduleCheck(due)
    }

    /// The idle-timer check scheduled earlier is due.
    ///
    /// - Parameter unsentBytes: the answers' bytes still waiting to go out
    ///   (the channel's buffered writable bytes). A connection whose answers
    ///   are still going out to a peer that reads them, however slowly, is
    ///   not idle: when fewer bytes wait than at the previous check (or the
    ///   first check finds some), the clock starts again. One whose peer has
    ///   stopped reading is closed once nothing has gone out for the idle
    ///   timeout — seen by the checks, so between one and two idle timeouts
    ///   after the peer last took a byte.
    package mutating func idleTimerFired(now: NIODeadline, unsentBytes: Int = 0) -> TimerAction {
        guard !isClosing else { return .none }
        let answersMoved = unsentBytesAtLastCheck.map { unsentBytes < $0 } ?? (unsentBytes > 0)
        unsentBytesAtLastCheck = unsentBytes > 0 ? unsentBytes : nil
        if answersMoved {
            lastActivity = now
        }
        // Busy connections are not idle; a partial frame is the frame timer's
        // business — unless reading is held for the peer's unread answers.
        if !inFlight.isEmpty || (partialFrameSince != nil && isWritable) {
            return .scheduleCheck(now + configuration.idleTimeout)
        }
        let due = lastActivity + configuration.idleTimeout
        if due <= now {
            return close(.idleTimeout(configuration.idleTimeout))
        }
        return .scheduleCheck(due)
    }

    private mutating func close(_ reason: ConnectionCloseReason) -> TimerAction {
        switch protocolViolation(reason) {
        case .sendFinalFrameAndClose(let reason): .close(reason)
        case .none: .none
        }
    }

    /// A fatal protocol event (bad frame, bad envelope, timeout).
    package mutating func protocolViolation(_ reason: ConnectionCloseReason) -> CloseAction {
        guard !isClosing else { return .none }
        phase = .closing
        return .sendFinalFrameAndClose(reason)
    }

    // MARK: Shutdown

    /// The server started draining. Returns true when the go-away frame must
    /// be sent (once, and only while the connection is active).
    package mutating func beginDrain() -> Bool {
        guard phase == .active else { return false }
        phase = .draining
        return true
    }

    /// The server closes the connection (end of drain); nothing more is read
    /// or answered. Returns false when it was already closing.
    package mutating func closeRequested() -> Bool {
        guard !isClosing else { return false }
        phase = .closing
        return true
    }

    /// The peer shut down its sending side (TCP half-close): nothing more
    /// will arrive — a frame left incomplete never will, so it is not timed
    /// — but every request already read is still answered; see
    /// ``isDoneAfterPeerFinishedSending``.
    package mutating func peerClosedInput() {
        peerFinishedSending = true
        partialFrameSince = nil
    }

    /// True once a peer that finished sending has every answer: nothing is
    /// in flight, so the connection may close (after flushing).
    package var isDoneAfterPeerFinishedSending: Bool {
        peerFinishedSending && inFlight.isEmpty && !isClosing
    }

    /// The channel closed.
    package mutating func channelClosed() {
        phase = .closed
        readPending = false
    }

    // MARK: Backpressure

    /// The pipeline asks to read more. Returns true when the read may go
    /// ahead; false holds it until the channel is writable again.
    package mutating func readRequested() -> Bool {
        guard !isClosing else { return false }
        if isWritable { return true }
        readPending = true
        return false
    }

    /// The channel's writability changed at `now`. Returns true when a held
    /// read must be issued now. Reading resumes with a whole frame timeout
    /// for a frame left incomplete while it was held.
    package mutating func writabilityChanged(isWritable: Bool, now: NIODeadline) -> Bool {
        if isWritable, !self.isWritable, partialFrameSince != nil { partialFrameSince = now }
        self.isWritable = isWritable
        guard isWritable, readPending, !isClosing else { return false }
        readPending = false
        return true
    }
}
