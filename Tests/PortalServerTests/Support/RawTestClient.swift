import NIOCore
import NIOPosix
import PortalMessages
import PortalWire
import XCTest

/// What a client sees next on its connection.
enum ClientEvent: Sendable {
    case frame(ResponseEnvelope)
    case closed
}

struct ClientTimeout: Error {}

/// A bare TCP client that can send arbitrary bytes and reads whole response
/// frames, for tests that misbehave on purpose.
final class RawTestClient: Sendable {
    let channel: any Channel
    private let collector: NIOLoopBound<FrameCollector>

    private init(channel: any Channel, collector: NIOLoopBound<FrameCollector>) {
        self.channel = channel
        self.collector = collector
    }

    static func connect(port: Int) async throws -> RawTestClient {
        let (channel, collector) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FrameCollector())
                }
            }
            .connect(host: "127.0.0.1", port: port)
            // Look the collector up in the same event-loop tick as the connect
            // completes: a server that refuses the connection closes it at
            // once, and the pipeline is gone by the next hop.
            .flatMapThrowing { channel in
                (channel, NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: FrameCollector.self),
                    eventLoop: channel.eventLoop))
            }
            .get()
        return RawTestClient(channel: channel, collector: collector)
    }

    /// Sends raw bytes in one write.
    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Sends requests framed, all in one write.
    func send(_ requests: [RequestEnvelope]) async throws {
        var buffer = ByteBuffer()
        for request in requests { buffer.writeFrame(request) }
        try await channel.writeAndFlush(buffer)
    }

    func send(_ request: RequestEnvelope) async throws {
        try await send([request])
    }

    /// The next frame or the close, failing after `timeout`.
    func next(timeout: TimeAmount = .seconds(5)) async throws -> ClientEvent {
        let collector = self.collector
        return try await channel.eventLoop.flatSubmit {
            collector.value.next(timeout: timeout)
        }.get()
    }

    /// The next frame; fails the test if the connection closed instead.
    func nextResponse(
        timeout: TimeAmount = .seconds(5), file: StaticString = #filePath, line: UInt = #line
    ) async throws -> ResponseEnvelope {
        switch try await next(timeout: timeout) {
        case .frame(let response): return response
        case .closed:
            XCTFail("connection closed while a response was expected", file: file, line: line)
            throw ClientTimeout()
        }
    }

    /// Asserts the server closed the connection (no more frames).
    func expectClosed(
        timeout: TimeAmount = .seconds(5), file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        switch try await next(timeout: timeout) {
        case .closed: return
        case .frame(let response):
            XCTFail(
                "expected close, got frame id \(response.id) \(String(describing: response.status))",
                file: file, line: line)
        }
    }

    /// Sends one request and returns its answer (no other call may be in flight).
    func call(_ request: RequestEnvelope) async throws -> ResponseEnvelope {
        try await send(request)
        return try await nextResponse()
    }

    /// Sends one request and asserts it is answered OK.
    func assertOK(
        _ request: RequestEnvelope, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let response = try await call(request)
        XCTAssertEqual(response.id, request.id, file: file, line: line)
        XCTAssertEqual(response.code, .ok, file: file, line: line)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Splits the server's bytes into response frames and hands them out in order.
final class FrameCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var parser = FrameParser(maximumFrameLength: 64 * 1024 * 1024)
    private var events: [ClientEvent] = []
    private var isClosed = false
    private var waiter: (promise: EventLoopPromise<ClientEvent>, timeout: Scheduled<Void>)?
    private var eventLoop: (any EventLoop)?

    func handlerAdded(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        parser.append(&bytes)
        while let frame = try? parser.nextFrame() {
            let response = (try? ResponseEnvelope(buffer: frame)) ?? ResponseEnvelope(id: UInt64.max)
            deliver(.frame(response))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        if let waiter {
            self.waiter = nil
            waiter.timeout.cancel()
            waiter.promise.succeed(.closed)
        }
        context.fireChannelInactive()
    }

    private func deliver(_ event: ClientEvent) {
        if let waiter {
            self.waiter = nil
            waiter.timeout.cancel()
            waiter.promise.succeed(event)
        } else {
            events.append(event)
        }
    }

    func next(timeout: TimeAmount) -> EventLoopFuture<ClientEvent> {
        let loop = eventLoop!
        if !events.isEmpty { return loop.makeSucceededFuture(events.removeFirst()) }
        if isClosed { return loop.makeSucceededFuture(.closed) }
        precondition(waiter == nil, "one reader at a time")
        let promise = loop.makePromise(of: ClientEvent.self)
        let scheduled = loop.assumeIsolated().scheduleTask(in: timeout) {
            self.waiter = nil
            promise.fail(ClientTimeout())
        }
        waiter = (promise, scheduled)
        return promise.futureResult
    }
}
