import NIOCore
import PortalWire
import XCTest

final class FrameParserTests: XCTestCase {
    private func frame(_ body: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeFrame(body)
        return Array(buffer.readableBytesView)
    }

    private func drain(_ parser: inout FrameParser) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while let frame = try parser.nextFrame() { frames.append(Array(frame.readableBytesView)) }
        return frames
    }

    func testFrameSplitByteByByteIsReassembled() throws {
        var parser = FrameParser(maximumFrameLength: 1024)
        let body: [UInt8] = Array(0..<200)
        var frames: [[UInt8]] = []
        for byte in frame(body) {
            var chunk = ByteBuffer(bytes: [byte])
            parser.append(&chunk)
            frames += try drain(&parser)
        }
        XCTAssertEqual(frames, [body])
        XCTAssertFalse(parser.hasPartialFrame)
    }

    func testManyFramesMergedIntoOneReadAreAllReturned() throws {
        var parser = FrameParser(maximumFrameLength: 1024)
        let bodies = (1...100).map { n in [UInt8](repeating: UInt8(n), count: n) }
        var merged = ByteBuffer(bytes: bodies.flatMap(frame))
        parser.append(&merged)
        XCTAssertEqual(try drain(&parser), bodies)
        XCTAssertFalse(parser.hasPartialFrame)
    }

    func testTrailingPartialFrameIsKeptUntilTheRestArrives() throws {
        var parser = FrameParser(maximumFrameLength: 1024)
        let second = frame([9, 9, 9])
        var first = ByteBuffer(bytes: frame([1, 2]) + second.prefix(5))
        parser.append(&first)
        XCTAssertEqual(try drain(&parser), [[1, 2]])
        XCTAssertTrue(parser.hasPartialFrame)
        var rest = ByteBuffer(bytes: second.dropFirst(5))
        parser.append(&rest)
        XCTAssertEqual(try drain(&parser), [[9, 9, 9]])
        XCTAssertFalse(parser.hasPartialFrame)
    }

    func testZeroLengthIsRefused() {
        var parser = FrameParser(maximumFrameLength: 1024)
        var bytes = ByteBuffer(bytes: [0, 0, 0, 0])
        parser.append(&bytes)
        XCTAssertThrowsError(try parser.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .zeroLength)
            XCTAssertEqual((error as? FrameError)?.rpcError.reason, .malformedFrame)
        }
    }

    func testOversizedLengthIsRefusedFromTheHeaderAlone() {
        var parser = FrameParser(maximumFrameLength: 4 * 1024 * 1024)
        // Only the 4-byte header of a 4 GiB - 1 frame: refused before any body.
        var bytes = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        parser.append(&bytes)
        XCTAssertThrowsError(try parser.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .tooLarge(length: UInt32.max, maximum: 4 * 1024 * 1024))
            XCTAssertEqual((error as? FrameError)?.rpcError.reason, .frameTooLarge)
        }
    }

    func testLengthEqualToTheMaximumIsAccepted() throws {
        var parser = FrameParser(maximumFrameLength: 8)
        var bytes = ByteBuffer(bytes: frame([UInt8](repeating: 7, count: 8)))
        parser.append(&bytes)
        XCTAssertEqual(try drain(&parser), [[UInt8](repeating: 7, count: 8)])
    }

    func testIncompleteHeaderWaitsForMoreBytes() throws {
        var parser = FrameParser(maximumFrameLength: 8)
        var bytes = ByteBuffer(bytes: [0, 0])
        parser.append(&bytes)
        XCTAssertNil(try parser.nextFrame())
        XCTAssertTrue(parser.hasPartialFrame)
    }
}
