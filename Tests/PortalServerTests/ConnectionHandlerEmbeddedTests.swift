import Logging
import NIOCore
import NIOEmbedded
import PortalMessages
import PortalWire
import XCTest

@testable import PortalServer

/// The connection handler's timers and backpressure on an EmbeddedChannel,
/// with virtual time.
final class ConnectionHandlerEmbeddedTests: XCTestCase {
    private final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    private func makeChannel(
        idle: TimeAmount = .seconds(60), frame: TimeAmount = .seconds(10)
    ) throws -> (EmbeddedChannel, ReadCounter) {
        var configuration = ServerConfiguration.defaults
        configuration.timeouts.idleTimeout = idle
        configuration.timeouts.frameTimeout = frame
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let handler = ConnectionHandler(
            configuration: configuration, router: .portalContract(), calls: CallQueue(),
            drainState: DrainState(), logger: logger)
        let counter = ReadCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, counter)
    }

    private func responses(from channel: EmbeddedChannel) throws -> [ResponseEnvelope] {
        var parser = FrameParser(maximumFrameLength: 1 << 20)
        var result: [ResponseEnvelope] = []
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) {
            parser.append(&bytes)
            while let frame = try parser.nextFrame() { result.append(try ResponseEnvelope(buffer: frame)) }
        }
        return result
    }

    private func frame(_ request: RequestEnvelope) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeFrame(request)
        return buffer
    }

    func testIdleTimeoutFiresAtTheConfiguredTimeNotBefore() throws {
        let (channel, _) = try makeChannel(idle: .seconds(60))
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        XCTAssertTrue(try responses(from: channel).isEmpty)
        XCTAssertTrue(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let frames = try responses(from: channel)
        XCTAssertEqual(frames.map(\.id), [0])
        XCTAssertEqual(frames.first?.status?.reason, "IDLE_TIMEOUT")
        XCTAssertFalse(channel.isActive)
    }

    func testTrafficPostponesTheIdleTimeout() throws {
        let (channel, _) = try makeChannel(idle: .seconds(60))
        channel.embeddedEventLoop.advanceTime(by: .seconds(40))
        try channel.writeInbound(frame(.health(id: 1)))
        XCTAssertEqual(try responses(from: channel).map(\.id), [1])
        channel.embeddedEventLoop.advanceTime(by: .seconds(40))
        XCTAssertTrue(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        XCTAssertEqual(try responses(from: channel).first?.status?.reason, "IDLE_TIMEOUT")
        XCTAssertFalse(channel.isActive)
    }

    func testPartialFrameTimesOutAfterTheFrameTimeout() throws {
        let (channel, _) = try makeChannel(frame: .seconds(10))
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 9, 1]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        // Trickling bytes does not extend the window (no slowloris).
        try channel.writeInbound(ByteBuffer(bytes: [2]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        XCTAssertTrue(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let frames = try responses(from: channel)
        XCTAssertEqual(frames.first?.status?.reason, "FRAME_TIMEOUT")
        XCTAssertFalse(channel.isActive)
    }

    func testFrameCompletedInTimeDoesNotTimeOut() throws {
        let (channel, _) = try makeChannel(frame: .seconds(10))
        let whole = Array(frame(.health(id: 3)).readableBytesView)
        try channel.writeInbound(ByteBuffer(bytes: whole.prefix(3)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        try channel.writeInbound(ByteBuffer(bytes: whole.dropFirst(3)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        XCTAssertEqual(try responses(from: channel).map(\.id), [3])
        XCTAssertTrue(channel.isActive)
    }

    func testReadingPausesWhileNotWritableAndResumesAfter() throws {
        let (channel, counter) = try makeChannel()
        let before = counter.reads
        channel.read()
        XCTAssertEqual(counter.reads, before + 1)

        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        XCTAssertEqual(counter.reads, before + 1, "no read while the peer does not take our answers")

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        XCTAssertEqual(counter.reads, before + 2, "the held read goes ahead")
    }

    func testInlineAnswersOfOneBurstAreFlushedTogether() throws {
        let (channel, _) = try makeChannel()
        var burst = ByteBuffer()
        for id in 1...5 as ClosedRange<UInt64> { burst.writeFrame(RequestEnvelope.health(id: id)) }
        channel.pipeline.fireChannelRead(burst)
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "nothing is written before the burst ends")
        channel.pipeline.fireChannelReadComplete()
        let first = try channel.readOutbound(as: ByteBuffer.self)
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "one write for the whole burst")
        var parser = FrameParser(maximumFrameLength: 1 << 20)
        var bytes = first!
        parser.append(&bytes)
        var ids: [UInt64] = []
        while let frame = try parser.nextFrame() { ids.append(try ResponseEnvelope(buffer: frame).id) }
        XCTAssertEqual(ids, [1, 2, 3, 4, 5])
    }
}
