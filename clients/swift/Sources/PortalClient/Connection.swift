import NIOConcurrencyHelpers
import NIOCore
import PortalMessages
import PortalWire

/// One TCP connection to the server, multiplexing any number of concurrent
/// calls: each request gets an id, answers are matched to their callers by id
/// in whatever order they arrive.
///
/// The bookkeeping is a ``ConnectionStateMachine`` behind a lock, so a call
/// takes no actor hop: it reserves an id, writes its frame and suspends; the
/// channel's handler resumes it from the event loop.
final class Connection: Sendable {
    typealias Waiter = CheckedContinuation<Result<ResponseEnvelope, RPCError>, Never>
    typealias StateMachine = ConnectionStateMachine<Waiter, Scheduled<Void>>

    /// The channel; its pipeline ends in a ``ResponseHandler`` for this connection.
    let channel: any Channel
    /// The connection's number within its client (1, 2, …), for logs.
    let number: Int
    /// The largest request frame body the server accepts.
    let maximumFrameLength: Int
    private let state = NIOLockedValueBox(StateMachine())

    init(channel: any Channel, number: Int, maximumFrameLength: Int) {
        self.channel = channel
        self.number = number
        self.maximumFrameLength = maximumFrameLength
    }

    /// Whether the connection still takes new calls.
    var isAcceptingCalls: Bool {
        state.withLockedValue { $0.phase == .active }
    }

    /// Sends one request and waits for its answer.
    ///
    /// Returns `nil`, having sent nothing, when the connection takes no new
    /// calls (it is draining or closed): the caller must use another one.
    /// Transport failures and the deadline surface as `.failure`; a non-OK
    /// status from the server comes back as `.failure(RPCError(status:))`.
    func call(
        method: String,
        payload: [UInt8],
        metadata: [String: String],
        deadline: NIODeadline?,
        timeout: Duration?
    ) async -> Result<ResponseEnvelope, RPCError>? {
        guard let id = state.withLockedValue({ $0.makeRequest() }) else { return nil }

        var timeoutMilliseconds: UInt32 = 0
        if let deadline {
            let remaining = deadline - .now()
            guard remaining > .zero else {
                self.resolve(id, with: .deadlineExceeded(timeout))
                return await self.wait(for: id)
            }
            // Rounded up so that the server's deadline never runs out before ours.
            let millis = (remaining.nanoseconds + 999_999) / 1_000_000
            timeoutMilliseconds = UInt32(clamping: max(1, millis))
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) { [self] in
                self.resolve(id, with: .deadlineExceeded(timeout))
            }
            if let unused = state.withLockedValue({ $0.setTimer(timer, for: id) }) {
                unused.cancel()
            }
        }

        let envelope = RequestEnvelope(
            id: id, method: method, metadata: metadata, timeoutMs: timeoutMilliseconds,
            payload: payload)
        let body = envelope.serializedBytes()
        guard body.count <= maximumFrameLength else {
            // Refused before sending: the server would close the connection.
            self.resolve(id, with: .requestTooLarge(bytes: body.count, maximum: maximumFrameLength))
            return await self.wait(for: id)
        }
        var buffer = channel.allocator.buffer(capacity: 4 + body.count)
        buffer.writeFrame(body)
        // A failed write closes the channel, and closing fails every call in
        // flight, so no per-write promise is needed.
        channel.writeAndFlush(buffer, promise: nil)

        return await withTaskCancellationHandler {
            await self.wait(for: id)
        } onCancel: {
            self.resolve(id, with: .cancelled)
        }
    }

    private func wait(for id: UInt64) async -> Result<ResponseEnvelope, RPCError> {
        await withCheckedContinuation { (waiter: Waiter) in
            if let outcome = state.withLockedValue({ $0.attach(waiter, to: id) }) {
                waiter.resume(returning: outcome)
            }
        }
    }

    /// Fails call `id` locally (deadline, cancellation) unless it was already resolved.
    func resolve(_ id: UInt64, with error: RPCError) {
        let effects = state.withLockedValue { $0.fail(id, with: error) }
        perform(effects)
    }

    /// A frame from the server (called on the event loop).
    func receive(_ envelope: ResponseEnvelope) {
        let effects = state.withLockedValue { $0.receive(envelope) }
        perform(effects)
    }

    /// The stream from the server cannot be read any more.
    func failAll(with error: RPCError) {
        let effects = state.withLockedValue { $0.failAll(with: error) }
        perform(effects)
    }

    /// The channel has closed (called on the event loop).
    func channelClosed() {
        let effects = state.withLockedValue { $0.connectionClosed() }
        perform(effects)
    }

    /// Takes no new calls; closes once the calls in flight have completed.
    func startDraining() {
        let effects = state.withLockedValue { $0.startDraining() }
        perform(effects)
    }

    private func perform(_ effects: StateMachine.Effects) {
        // Resumed outside the lock: a resumed task may come straight back in.
        for resolution in effects.resolutions {
            resolution.timer?.cancel()
            resolution.waiter?.resume(returning: resolution.outcome)
        }
        if effects.closeConnection {
            channel.close(mode: .all, promise: nil)
        }
    }
}

/// Reads frames from the server and hands each `ResponseEnvelope` to its
/// ``Connection``. A stream that cannot be read (a length over the maximum, a
/// zero length, a frame that is not an envelope) fails every call in flight
/// and closes the connection: the protocol never resynchronises.
final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let connection: Connection
    private var parser: FrameParser
    private var failed = false

    init(connection: Connection, maximumFrameLength: Int) {
        self.connection = connection
        self.parser = FrameParser(maximumFrameLength: maximumFrameLength)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var bytes = unwrapInboundIn(data)
        parser.append(&bytes)
        do {
            while let frame = try parser.nextFrame() {
                let envelope: ResponseEnvelope
                do {
                    envelope = try ResponseEnvelope(buffer: frame)
                } catch {
                    fail(
                        context: context,
                        RPCError(
                            code: .internalError, reason: .malformedFrame,
                            message: "The server sent a frame that is not a ResponseEnvelope.",
                            cause: error))
                    return
                }
                connection.receive(envelope)
            }
            parser.compact()
        } catch {
            var rpcError = error.rpcError
            rpcError.message = "The server sent an unreadable frame: " + rpcError.message
            fail(context: context, rpcError)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.channelClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Closing fails the calls in flight with CONNECTION_LOST.
        context.close(promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ error: RPCError) {
        failed = true
        connection.failAll(with: error)
        context.close(promise: nil)
    }
}
