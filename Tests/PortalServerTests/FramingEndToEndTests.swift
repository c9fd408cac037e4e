import NIOCore
import PortalMessages
import PortalWire
import XCTest

/// Framing over real TCP: what a client sees for well- and ill-formed frames.
final class FramingEndToEndTests: XCTestCase {
    func testHealthCheckAnswersServingForTheServerAndItsServices() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            for (id, service) in [(1, ""), (2, "portal.v1.Health"), (3, "portal.v1.Admin")] as [(UInt64, String)] {
                let response = try await client.call(.health(id: id, service: service))
                XCTAssertEqual(response.id, id)
                XCTAssertEqual(response.code, .ok)
                XCTAssertEqual(try HealthCheckResponse(serializedBytes: response.payload).status, .serving)
            }
            let unknown = try await client.call(.health(id: 4, service: "portal.v1.Nope"))
            XCTAssertEqual(unknown.code, .notFound)
        }
    }

    func testFrameSplitByteByByteIsAnswered() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            var frame = ByteBuffer()
            frame.writeFrame(RequestEnvelope.health(id: 42))
            for byte in frame.readableBytesView {
                try await client.send(bytes: [byte])
            }
            let response = try await client.nextResponse()
            XCTAssertEqual(response.id, 42)
            XCTAssertEqual(response.code, .ok)
        }
    }

    func testManyFramesMergedIntoOneWriteAreAllAnswered() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            try await client.send((1...200).map { RequestEnvelope.health(id: $0) })
            var ids: Set<UInt64> = []
            for _ in 1...200 {
                let response = try await client.nextResponse()
                XCTAssertEqual(response.code, .ok)
                ids.insert(response.id)
            }
            XCTAssertEqual(ids, Set(1...200))
        }
    }

    func testOversizedLengthIsRefusedFromTheHeaderAndTheConnectionClosed() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            // Announce 4 GiB - 1 and send no body: the refusal comes at once,
            // so the server never waited for (or allocated) the body.
            try await client.send(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
            let response = try await client.nextResponse(timeout: .seconds(2))
            XCTAssertEqual(response.id, 0)
            XCTAssertEqual(response.code, .resourceExhausted)
            XCTAssertEqual(response.reason, "FRAME_TOO_LARGE")
            XCTAssertEqual(response.status?.details["max_frame_bytes"], String(4 * 1024 * 1024))
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }

    func testLengthJustOverAConfiguredMaximumIsRefused() async throws {
        try await TestServer.with(configure: { $0.limits.maximumFrameLength = 1024 }) { server in
            let client = try await server.connect()
            try await client.send(bytes: [0, 0, 4, 1])
            let response = try await client.nextResponse()
            XCTAssertEqual(response.reason, "FRAME_TOO_LARGE")
            try await client.expectClosed()
        }
    }

    func testZeroLengthIsAMalformedFrameAndClosesTheConnection() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            try await client.send(bytes: [0, 0, 0, 0])
            let response = try await client.nextResponse()
            XCTAssertEqual(response.id, 0)
            XCTAssertEqual(response.code, .invalidArgument)
            XCTAssertEqual(response.reason, "MALFORMED_FRAME")
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }

    func testEnvelopeThatIsNotProtobufClosesTheConnection() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            // A good request first: it is answered before the bad frame's error.
            var bytes = ByteBuffer()
            bytes.writeFrame(RequestEnvelope.health(id: 1))
            bytes.writeFrame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] as [UInt8])
            bytes.writeFrame(RequestEnvelope.health(id: 2))
            try await client.send(bytes: Array(bytes.readableBytesView))
            let first = try await client.nextResponse()
            XCTAssertEqual(first.id, 1)
            XCTAssertEqual(first.code, .ok)
            let error = try await client.nextResponse()
            XCTAssertEqual(error.id, 0)
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertEqual(error.reason, "MALFORMED_FRAME")
            // Nothing after the bad frame is read: no answer for id 2.
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }

    /// A method name with a NUL is valid protobuf, but not a string this
    /// service can hold (its C layer ends strings at NUL): the frame is not a
    /// request envelope, and the final frame says which field is to blame.
    func testEnvelopeWithANULInItsMethodNamesTheField() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            // Written by hand: id 7 (field 1), then the method (field 2) with a NUL.
            let method = Array("portal.v1.Health/Check".utf8) + [0, UInt8(ascii: "x")]
            let body: [UInt8] = [0x08, 7, 0x12, UInt8(method.count)] + method
            try await client.send(bytes: [0, 0, 0, UInt8(body.count)] + body)
            let error = try await client.nextResponse()
            XCTAssertEqual(error.id, 0)
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertEqual(error.reason, "MALFORMED_FRAME")
            XCTAssertEqual(error.status?.details["field"], "method")
            XCTAssertTrue(error.status?.message.contains("'method' contains a NUL byte") == true, error.status?.message ?? "")
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }
}
