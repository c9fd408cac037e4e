import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortalMessages
import PortalWire

/// A scripted stand-in for portald over real TCP on 127.0.0.1 (port 0): it
/// reads request frames and hands each to the test's `behaviour`, which
/// answers (now, later, out of order), says go-away, or drops the connection.
/// It records every connection and request so tests can assert what the
/// client sent.
final class FakePortalServer: Sendable {
    typealias Behaviour = @Sendable (FakeServerConnection, RequestEnvelope) -> Void

    struct Received: Sendable {
        var connection: Int
        var envelope: RequestEnvelope
    }

    private struct State {
        var connections = 0
        var closed: Set<Int> = []
        var received: [Received] = []
    }

    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let serverChannel: any Channel
    private let state: NIOLockedValueBox<State>

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, state: NIOLockedValueBox<State>) {
        self.port = port
        self.group = group
        self.serverChannel = channel
        self.state = state
    }

    /// Starts a server on 127.0.0.1 and a free port.
    static func start(_ behaviour: @escaping Behaviour) async throws -> FakePortalServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = NIOLockedValueBox(State())
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = state.withLockedValue { state in
                        state.connections += 1
                        return state.connections
                    }
                    let connection = FakeServerConnection(number: number, channel: channel)
                    channel.closeFuture.whenComplete { _ in
                        _ = state.withLockedValue { $0.closed.insert(number) }
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        RequestHandler(connection: connection) { connection, envelope in
                            state.withLockedValue {
                                $0.received.append(Received(connection: connection.number, envelope: envelope))
                            }
                            behaviour(connection, envelope)
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return FakePortalServer(port: channel.localAddress!.port!, group: group, channel: channel, state: state)
    }

    /// Connections accepted so far.
    var connectionCount: Int { state.withLockedValue { $0.connections } }
    /// Numbers (1, 2, …) of the connections that have closed.
    var closedConnections: Set<Int> { state.withLockedValue { $0.closed } }
    /// Every request received, in arrival order.
    var received: [Received] { state.withLockedValue { $0.received } }

    /// Waits (polling, bounded) until `condition` holds.
    func waitUntil(
        timeout: Duration = .seconds(5), _ condition: @Sendable (FakePortalServer) -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while !condition(self) {
            guard clock.now < end else { throw FakeServerTimeout() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func stop() async throws {
        try await serverChannel.close()
        try await group.shutdownGracefully()
    }
}

struct FakeServerTimeout: Error {}

/// One accepted connection of the fake server.
final class FakeServerConnection: Sendable {
    let number: Int
    let channel: any Channel

    init(number: Int, channel: any Channel) {
        self.number = number
        self.channel = channel
    }

    func send(_ envelope: ResponseEnvelope) {
        var buffer = channel.allocator.buffer(capacity: 64)
        buffer.writeFrame(envelope)
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Answers `request` with `message`.
    func reply(to request: RequestEnvelope, with message: some ProtoMessage) {
        send(ResponseEnvelope(id: request.id, status: Status(code: 0), payload: message.serializedBytes()))
    }

    /// Answers `request` with an error status.
    func fail(_ request: RequestEnvelope, _ error: RPCError) {
        send(ResponseEnvelope(id: request.id, status: Status(error), payload: []))
    }

    /// Sends the go-away frame a draining server sends (id 0, GOAWAY).
    func sendGoAway() {
        send(ResponseEnvelope(
            id: 0,
            status: Status(RPCError(code: .unavailable, reason: .goAway, message: "Server is shutting down.")),
            payload: []))
    }

    func close() {
        channel.close(promise: nil)
    }
}

private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let connection: FakeServerConnection
    let onRequest: (FakeServerConnection, RequestEnvelope) -> Void
    var parser = FrameParser(maximumFrameLength: WireDefaults.maximumFrameLength)

    init(connection: FakeServerConnection, onRequest: @escaping (FakeServerConnection, RequestEnvelope) -> Void) {
        self.connection = connection
        self.onRequest = onRequest
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        parser.append(&bytes)
        do {
            while let frame = try parser.nextFrame() {
                onRequest(connection, try RequestEnvelope(buffer: frame))
            }
        } catch {
            context.close(promise: nil)
        }
    }
}
