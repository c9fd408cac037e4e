import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortalWire
import ServiceLifecycle

/// A Portal RPC server: TCP, length-prefixed protobuf frames, any number of
/// pipelined requests per connection, answered by the handlers of a ``Router``.
///
/// It is a swift-service-lifecycle `Service`: run it in a `ServiceGroup`, which
/// turns SIGTERM/SIGINT into a graceful shutdown. On graceful shutdown it
/// drains: it stops accepting connections, sends every connection a go-away
/// frame (id 0, UNAVAILABLE, reason GOAWAY), answers requests that arrive
/// afterwards UNAVAILABLE / SHUTTING_DOWN without running them (health checks
/// still answer, NOT_SERVING), lets running requests finish within
/// ``ServerConfiguration/Timeouts/drainGracePeriod``, then closes every
/// connection and returns.
///
/// ```swift
/// var router = Router(knownMethods: HealthMethods.allFullNames)
/// router.registerHealthService()
/// let server = RPCServer(configuration: .defaults, router: router, logger: logger)
/// let group = ServiceGroup(
///     services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
///
/// Asynchronous handlers run as child tasks of one task group owned by
/// ``run()``; inline handlers run on the connection's event loop.
public final class RPCServer: Service, Sendable {
    /// The configuration the server was made with.
    public let configuration: ServerConfiguration
    private let router: Router
    /// Per-method counters and latency histograms of the calls it answered.
    public let metrics: CallMetrics
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger

    private let calls = CallQueue()
    private let drainState = DrainState()
    private let connections: ConnectionRegistry
    private let bound = BoundAddress()
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)
    private let drainStarted: AsyncStream<Never>
    private let drainStartedContinuation: AsyncStream<Never>.Continuation

    /// Creates a server; nothing happens until ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: address, limits and timeouts.
    ///   - router: the handlers; copied, later changes are not seen.
    ///   - metrics: where the calls are counted; new counters for the
    ///     router's methods by default (pass one to read it from a handler).
    ///   - eventLoopGroup: where connections live; NIO's shared group by default.
    ///   - logger: where the server logs (never metadata values).
    public init(
        configuration: ServerConfiguration = .defaults,
        router: Router,
        metrics: CallMetrics? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "portal.server")
    ) {
        self.configuration = configuration
        let metrics = metrics ?? CallMetrics(methods: router.knownMethods)
        var router = router
        router.assignMetricSlots(metrics)
        self.router = router
        self.metrics = metrics
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.connections = ConnectionRegistry(maximum: configuration.limits.maxConnections)
        (drainStarted, drainStartedContinuation) = AsyncStream.makeStream(of: Never.self)
    }

    /// The address the server listens on, once ``run()`` has bound it (with
    /// port 0, the port the system picked). Throws if binding failed.
    public var boundAddress: SocketAddress {
        get async throws { try await bound.get() }
    }

    /// The number of connections open now.
    public var connectionCount: Int { connections.count }

    /// Binds, serves until graceful shutdown or cancellation, drains, and
    /// returns once every connection is closed. Call it once.
    public func run() async throws {
        let channel: any Channel
        do {
            channel = try await bind()
        } catch {
            bound.resolve(.failure(error))
            throw error
        }
        serverChannel.withLockedValue { $0 = channel }
        let address = channel.localAddress!
        bound.resolve(.success(address))
        logger.info("Listening", metadata: ["address": "\(address)"])
        if drainState.isDraining { channel.close(promise: nil) }

        await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runCalls() }
                group.addTask { await self.waitForDrainGracePeriod() }
                // Whichever ends first: every call finished, or the grace period.
                _ = await group.next()
                group.cancelAll()
            }
        } onCancelOrGracefulShutdown: {
            self.beginDrain()
        }

        await connections.closeAll()
        try? await channel.close()
        logger.info("Stopped")
    }

    /// Starts draining, as a graceful shutdown does (idempotent).
    public func beginDrain() {
        guard drainState.begin() else { return }
        logger.info("Draining", metadata: ["connections": "\(connections.count)"])
        // The go-aways go out once the listening socket is closed, so that a
        // client that has its go-away finds new connections refused (not
        // queued in the kernel's backlog, then reset). The rest of the drain
        // — no new calls, the grace period, closing the connections once
        // the calls are done — follows the go-aways, never overtakes them.
        let connections = self.connections
        let calls = self.calls
        let drainStarted = self.drainStartedContinuation
        let drain: @Sendable () -> Void = {
            connections.drainAll()
            calls.close()
            drainStarted.finish()
        }
        if let listener = serverChannel.withLockedValue({ $0 }) {
            listener.close().whenComplete { _ in drain() }
        } else {
            drain()
        }
    }

    private func bind() async throws -> any Channel {
        let configuration = self.configuration
        let router = self.router
        let calls = self.calls
        let drainState = self.drainState
        let connections = self.connections
        let metrics = self.metrics
        let logger = self.logger
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client may shut down its sending side once it has sent its
            // requests (half-close) and still read every answer.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(
                    low: configuration.backpressure.lowWatermark,
                    high: configuration.backpressure.highWatermark))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ConnectionHandler(
                        configuration: configuration, router: router, calls: calls,
                        drainState: drainState, metrics: metrics.shard(on: channel.eventLoop), logger: logger)
                    let handle = ConnectionHandle(handler: handler, eventLoop: channel.eventLoop)
                    if connections.admit(channel, handle: handle) {
                        try channel.pipeline.syncOperations.addHandler(handler)
                    } else {
                        logger.warning(
                            "Refusing a connection over the cap",
                            metadata: ["max_connections": "\(configuration.limits.maxConnections)"])
                        try channel.pipeline.syncOperations.addHandler(
                            ConnectionRefusalHandler(maximum: configuration.limits.maxConnections))
                    }
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
    }

    /// Runs every asynchronous call as a child task until the queue closes
    /// (drain) and the calls already taken have finished; at most
    /// ``ServerConfiguration/Limits/maxRunningCalls`` at once, the others
    /// wait in the queue.
    private func runCalls() async {
        let limit = max(1, configuration.limits.maxRunningCalls)
        let deadlines = DeadlineWatch()
        deadlines.start(on: eventLoopGroup.next())
        defer { deadlines.stop() }
        // A discarding group, so that a call's task is freed as soon as it
        // has answered: a group that keeps its finished children until
        // `next()` collects them held up to `limit` finished calls — with
        // their handlers' memory, once each handler ran in its call's task
        // (≈ 6 MiB after a checkout run). A call waits for room in `slots`.
        let slots = CallSlots(limit: limit)
        await withDiscardingTaskGroup { group in
            for await call in calls.calls {
                await slots.take()
                group.addTask {
                    await call.execute(deadlines: deadlines)
                    slots.give()
                }
            }
        }
    }

    private func waitForDrainGracePeriod() async {
        for await _ in drainStarted {}
        let grace = configuration.timeouts.drainGracePeriod
        do {
            try await Task.sleep(nanoseconds: UInt64(max(0, grace.nanoseconds)))
            logger.warning("Drain grace period ended; cancelling the calls still running")
        } catch {
            // Cancelled: the calls finished first, or the server is being cancelled.
        }
    }
}
