import NIOCore
import PortalMessages
import PortalWire
import XCTest

/// The OK answer the server writes by hand is byte for byte what protobuf-c
/// writes for the same `ResponseEnvelope`.
final class ResponseFrameTests: XCTestCase {
    func testOKFramesAreProtobufCsEncodingByteForByte() throws {
        let ids: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, 1 << 32, .max]
        let sizes = [0, 1, 2, 127, 128, 300, 16_384, 70_000]
        for id in ids {
            for size in sizes {
                let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
                var expected = ByteBuffer()
                expected.writeFrame(ResponseEnvelope(id: id, payload: payload))
                var written = ByteBuffer()
                written.writeOKResponseFrame(id: id, payload: payload)
                XCTAssertEqual(written, expected, "id \(id), payload of \(size) bytes")
            }
        }
    }

    func testTheDocumentedHealthAnswer() {
        var written = ByteBuffer()
        written.writeOKResponseFrame(id: 1, payload: [0x08, 0x01])
        // docs/protocol.md §1: 00000008 0801 1200 1a02 0801
        XCTAssertEqual(
            Array(written.readableBytesView),
            [0x00, 0x00, 0x00, 0x08, 0x08, 0x01, 0x12, 0x00, 0x1A, 0x02, 0x08, 0x01])
    }
}
