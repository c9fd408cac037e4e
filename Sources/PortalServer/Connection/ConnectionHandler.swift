import Logging
import NIOCore
import PortalMessages
import PortalWire

/// Drives a ``ConnectionStateMachine`` from a channel: splits frames, decodes
/// envelopes, routes requests, writes answers and runs the timers.
///
/// Inline handlers run right here on the event loop; their answers are
/// gathered into one buffer and written with a single flush per read burst.
/// Asynchronous handlers are handed to the server's task group through the
/// ``CallQueue``; their answers come back through ``ConnectionHandle``.
package final class ConnectionHandler: ChannelDuplexHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    private var machine: ConnectionStateMachine
    private var parser: FrameParser
    private let router: Router
    private let calls: CallQueue
    private let drainState: DrainState
    /// This event loop's per-method counters (``CallMetrics``).
    private let metrics: MetricsShard?
    private var logger: Logger

    private var context: ChannelHandlerContext?
    /// Answers written since the last flush.
    private var outbound: ByteBuffer
    private var inReadBurst = false
    private var burstReceivedAt = NIODeadline.uptimeNanoseconds(0)
    private var framesInBurst = 0
    /// A flush of asynchronous answers is queued on the event loop.
    private var flushScheduled = false
    private var idleTimer: Scheduled<Void>?
    private var frameTimer: Scheduled<Void>?

    package init(
        configuration: ServerConfiguration, router: Router, calls: CallQueue,
        drainState: DrainState, metrics: MetricsShard? = nil, logger: Logger
    ) {
        self.metrics = metrics
        self.machine = ConnectionStateMachine(
            configuration: .init(
                maxInFlight: configuration.limits.maxInFlightPerConnection,
                idleTimeout: configuration.timeouts.idleTimeout,
                frameTimeout: configuration.timeouts.frameTimeout),
            now: .now())
        self.parser = FrameParser(maximumFrameLength: configuration.limits.maximumFrameLength)
        self.router = router
        self.calls = calls
        self.drainState = drainState
        self.logger = logger
        self.outbound = ByteBuffer()
    }

    // MARK: Lifecycle

    package func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.outbound = context.channel.allocator.buffer(capacity: 0)
        if let peer = context.channel.remoteAddress {
            logger[metadataKey: "peer"] = "\(peer)"
        }
        if context.channel.isActive { start(context: context) }
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    package func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard idleTimer == nil else { return }
        machine = ConnectionStateMachine(configuration: machine.configuration, now: context.eventLoop.now)
        scheduleIdleCheck(at: machine.idleCheckDeadline, context: context)
        logger.debug("Connection opened")
        if drainState.isDraining { serverDraining() }
    }

    package func channelInactive(context: ChannelHandlerContext) {
        machine.channelClosed()
        cancelTimers()
        logger.debug("Connection closed")
        context.fireChannelInactive()
    }

    /// The peer shut down its sending side (half-close; the server allows
    /// it): the requests already read are still answered, then the
    /// connection closes.
    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            machine.peerClosedInput()
            closeIfPeerIsDone(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Closes, after flushing every answer, a connection whose peer finished
    /// sending once nothing is in flight.
    private func closeIfPeerIsDone(context: ChannelHandlerContext) {
        guard machine.isDoneAfterPeerFinishedSending, machine.closeRequested() else { return }
        closeAfterFlushing(context: context)
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets and the like: this connection only.
        logger.debug("Connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Reading

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !inReadBurst {
            inReadBurst = true
            burstReceivedAt = context.eventLoop.now
        }
        guard !machine.isClosing else { return }
        var bytes = unwrapInboundIn(data)
        parser.append(&bytes)
        while true {
            let frame: ByteBuffer?
            do {
                frame = try parser.nextFrame()
            } catch {
                closeWithFinalFrame(machine.protocolViolation(.frame(error)), context: context)
                return
            }
            guard let frame else { return }
            framesInBurst += 1
            let envelope: RequestEnvelope
            do {
                envelope = try RequestEnvelope(buffer: frame)
            } catch {
                closeWithFinalFrame(machine.protocolViolation(.malformedEnvelope(error)), context: context)
                return
            }
            handle(envelope, context: context)
            if machine.isClosing { return }
        }
    }

    package func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        parser.compact()
        let action = machine.readBurstCompleted(
            now: burstReceivedAt, completedFrames: framesInBurst > 0,
            hasPartialFrame: parser.hasPartialFrame)
        framesInBurst = 0
        if case .scheduleCheck(let deadline) = action {
            scheduleFrameCheck(at: deadline, context: context)
        }
        flushAnswers(context: context)
        context.fireChannelReadComplete()
    }

    // MARK: Requests

    private func handle(_ envelope: RequestEnvelope, context: ChannelHandlerContext) {
        let resolution = router.resolve(envelope.method)
        var route: Route?
        if case .route(let found) = resolution { route = found }
        let runsInline: Bool
        if case .async = route?.kind { runsInline = false } else { runsInline = true }

        let slot = route?.metricSlot ?? -1
        switch machine.receivedRequest(
            id: envelope.id, runsInline: runsInline,
            servesWhileDraining: route?.servesWhileDraining ?? false)
        {
        case .ignore:
            return
        case .reject(let rejection):
            answer(id: envelope.id, error: rejection.rpcError, slot: slot)
            return
        case .run:
            break
        }
        guard let route else {
            write(id: envelope.id, error: resolution.error(method: envelope.method)!)
            return
        }

        let deadline: NIODeadline? =
            envelope.timeoutMs == 0 ? nil : burstReceivedAt + .milliseconds(Int64(envelope.timeoutMs))
        let requestContext = RequestContext(
            requestID: envelope.id, method: envelope.method, metadata: envelope.metadata,
            deadline: deadline, logger: logger, drainState: drainState)

        switch route.kind {
        case .inline(let body):
            if let deadline, deadline <= context.eventLoop.now {
                answer(id: envelope.id, error: RequestRejection.deadlineExceeded.rpcError, slot: slot)
                return
            }
            answer(id: envelope.id, outcome: body(envelope.payload, requestContext), slot: slot)
        case .async(let body):
            submit(body, payload: envelope.payload, context: requestContext, slot: slot, channelContext: context)
        case .inlineFirst(let inline, let body):
            if let deadline, deadline <= context.eventLoop.now {
                answer(id: envelope.id, error: RequestRejection.deadlineExceeded.rpcError, slot: slot)
                return
            }
            if let outcome = inline(envelope.payload, requestContext) {
                answer(id: envelope.id, outcome: outcome, slot: slot)
                return
            }
            switch machine.continuesAsynchronously(id: envelope.id) {
            case .ignore:
                return
            case .reject(let rejection):
                answer(id: envelope.id, error: rejection.rpcError, slot: slot)
            case .run:
                submit(body, payload: envelope.payload, context: requestContext, slot: slot, channelContext: context)
            }
        }
    }

    /// Writes the answer of a call read in this burst and counts it.
    private func answer(id: UInt64, outcome: CallOutcome, slot: Int) {
        write(id: id, outcome: outcome)
        count(slot: slot, code: outcome.statusCode, receivedAt: burstReceivedAt, answeredAt: .now())
    }

    private func answer(id: UInt64, error: RPCError, slot: Int) {
        answer(id: id, outcome: .failure(error), slot: slot)
    }

    private func count(slot: Int, code: Int32, receivedAt: NIODeadline, answeredAt: NIODeadline) {
        guard slot >= 0, let metrics else { return }
        metrics.record(slot: slot, code: code, nanoseconds: (answeredAt - receivedAt).nanoseconds)
    }

    /// Hands an asynchronous call (already counted in flight) to the server's task group.
    private func submit(
        _ body: @escaping @Sendable ([UInt8], RequestContext) async -> CallOutcome, payload: [UInt8],
        context requestContext: RequestContext, slot: Int, channelContext context: ChannelHandlerContext
    ) {
        let call = PendingCall(
            run: body, payload: payload, context: requestContext,
            connection: ConnectionHandle(handler: self, context: context), metricSlot: slot,
            receivedAt: burstReceivedAt)
        if !calls.submit(call) {
            // The server stopped taking calls between this connection's
            // go-away and now: the call did not run.
            _ = machine.requestCompleted(id: requestContext.requestID, now: burstReceivedAt)
            answer(id: requestContext.requestID, error: RequestRejection.shuttingDown.rpcError, slot: slot)
        }
    }

    /// The answer of an asynchronous call (on the event loop).
    package func callCompleted(id: UInt64, outcome: CallOutcome, metricSlot: Int, receivedAt: NIODeadline) {
        guard let context else { return }
        let now = context.eventLoop.now
        switch machine.requestCompleted(id: id, now: now) {
        case .drop:
            return
        case .write:
            write(id: id, outcome: outcome)
            count(slot: metricSlot, code: outcome.statusCode, receivedAt: receivedAt, answeredAt: now)
            if machine.isDoneAfterPeerFinishedSending {
                closeIfPeerIsDone(context: context)
            } else if !inReadBurst {
                scheduleFlush(context: context)
            }
        }
    }

    /// Flushes once after the answers that are already queued on the event
    /// loop have been written, so that a run of completions costs one
    /// write, not one each. A read burst in between flushes them sooner.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            guard let context = self.context else { return }
            self.flushAnswers(context: context)
        }
    }

    // MARK: Writing

    private func write(id: UInt64, outcome: CallOutcome) {
        switch outcome {
        case .success(let payload):
            outbound.writeOKResponseFrame(id: id, payload: payload)
        case .failure(let error):
            write(id: id, error: error)
        }
    }

    private func write(id: UInt64, error: RPCError) {
        outbound.writeFrame(ResponseEnvelope(id: id, error: error))
    }

    private func flushAnswers(context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        let bytes = outbound
        outbound = context.channel.allocator.buffer(capacity: 0)
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    /// Writes what is pending plus the final frame, then closes.
    private func closeWithFinalFrame(
        _ action: ConnectionStateMachine.CloseAction, context: ChannelHandlerContext
    ) {
        guard case .sendFinalFrameAndClose(let reason) = action else { return }
        let error = reason.rpcError
        logger.info(
            "Closing connection after a protocol error",
            metadata: ["reason": "\(error.reason)", "code": "\(error.code)"])
        write(id: 0, error: error)
        closeAfterFlushing(context: context)
    }

    private func closeAfterFlushing(context: ChannelHandlerContext) {
        cancelTimers()
        let bytes = outbound
        outbound = context.channel.allocator.buffer(capacity: 0)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in
            channel.close(promise: nil)
        }
        // A peer that never reads must not keep the connection open.
        context.eventLoop.scheduleTask(in: machine.configuration.frameTimeout) {
            channel.close(promise: nil)
        }
    }

    // MARK: Server events

    /// The server started draining: send the go-away frame.
    package func serverDraining() {
        guard let context, machine.beginDrain() else { return }
        write(
            id: 0,
            error: RPCError(
                code: .unavailable, reason: .goAway,
                message: "Server is shutting down; send new requests elsewhere or later."))
        if !inReadBurst { flushAnswers(context: context) }
    }

    /// The server finished draining: flush what is pending and close.
    package func serverClosing() {
        guard let context, machine.closeRequested() else { return }
        closeAfterFlushing(context: context)
    }

    // MARK: Backpressure

    package func read(context: ChannelHandlerContext) {
        if machine.readRequested() { context.read() }
    }

    package func channelWritabilityChanged(context: ChannelHandlerContext) {
        if machine.writabilityChanged(isWritable: context.channel.isWritable, now: .now()) {
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Timers

    private func scheduleIdleCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.idleCheckDue()
        }
    }

    private func scheduleFrameCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        frameTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.frameCheckDue()
        }
    }

    private func idleCheckDue() {
        guard let context else { return }
        let unsent = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        apply(
            machine.idleTimerFired(now: context.eventLoop.now, unsentBytes: unsent), context: context, idle: true)
    }

    private func frameCheckDue() {
        guard let context else { return }
        apply(machine.frameTimerFired(now: context.eventLoop.now), context: context, idle: false)
    }

    private func apply(
        _ action: ConnectionStateMachine.TimerAction, context: ChannelHandlerContext, idle: Bool
    ) {
        switch action {
        case .none:
            break
        case .scheduleCheck(let deadline):
            if idle {
                scheduleIdleCheck(at: deadline, context: context)
            } else {
                scheduleFrameCheck(at: deadline, context: context)
            }
        case .close(let reason):
            closeWithFinalFrame(.sendFinalFrameAndClose(reason), context: context)
        }
    }

    private func cancelTimers() {
        idleTimer?.cancel()
        idleTimer = nil
        frameTimer?.cancel()
        frameTimer = nil
    }
}

/// A thread-safe reference to a connection's handler, used by the server's
/// task group and by shutdown to reach it on its event loop.
package struct ConnectionHandle: Sendable {
    private let handler: NIOLoopBound<ConnectionHandler>

    package init(handler: ConnectionHandler, context: ChannelHandlerContext) {
        self.handler = NIOLoopBound(handler, eventLoop: context.eventLoop)
    }

    /// A handle to `handler`, which lives on `eventLoop` (call it there).
    package init(handler: ConnectionHandler, eventLoop: any EventLoop) {
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
    }

    /// Tells the connection the server drains (it sends its go-away frame).
    package func drain() {
        let handler = self.handler
        handler.eventLoop.execute { handler.value.serverDraining() }
    }

    /// Flushes the connection's pending answers and closes it.
    package func close() {
        let handler = self.handler
        handler.eventLoop.execute { handler.value.serverClosing() }
    }

    /// Delivers the answer of an asynchronous call (counted in `metricSlot`,
    /// received at `receivedAt`).
    package func complete(id: UInt64, outcome: CallOutcome, metricSlot: Int, receivedAt: NIODeadline) {
        let handler = self.handler
        handler.eventLoop.execute {
            handler.value.callCompleted(id: id, outcome: outcome, metricSlot: metricSlot, receivedAt: receivedAt)
        }
    }
}
