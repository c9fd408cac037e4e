import PortalMessages
import XCTest

/// The envelopes are frozen (SPEC §3): these tests pin their exact wire bytes,
/// written by hand from the protobuf encoding rules.
final class EnvelopeWireTests: XCTestCase {
    // id=1: 08 01; method="x": 12 01 78; payload=[1,2]: 2a 02 01 02
    private let requestBytes: [UInt8] = [0x08, 0x01, 0x12, 0x01, 0x78, 0x2A, 0x02, 0x01, 0x02]

    func testRequestEnvelopeEncodesToHandWrittenBytes() {
        let request = RequestEnvelope(id: 1, method: "x", payload: [1, 2])
        XCTAssertEqual(request.serializedBytes(), requestBytes)
    }

    func testRequestEnvelopeDecodesHandWrittenBytes() throws {
        let request = try RequestEnvelope(serializedBytes: requestBytes)
        XCTAssertEqual(request.id, 1)
        XCTAssertEqual(request.method, "x")
        XCTAssertEqual(request.payload, [1, 2])
        XCTAssertEqual(request.metadata, [:])
        XCTAssertEqual(request.timeoutMs, 0)
    }

    func testRequestEnvelopeWithEveryFieldHasExactBytes() throws {
        let request = RequestEnvelope(
            id: 300,
            method: "portal.v1.Health/Check",
            metadata: ["b": "2", "a": "1"],
            timeoutMs: 1500,
            payload: [0, 0xFF, 0]
        )
        var expected: [UInt8] = [0x08, 0xAC, 0x02]  // id 300
        expected += [0x12, 22] + Array("portal.v1.Health/Check".utf8)
        // map entries sorted by key: {key "a", value "1"}, {key "b", value "2"}
        expected += [0x1A, 0x06, 0x0A, 0x01, 0x61, 0x12, 0x01, 0x31]
        expected += [0x1A, 0x06, 0x0A, 0x01, 0x62, 0x12, 0x01, 0x32]
        expected += [0x20, 0xDC, 0x0B]  // timeout_ms 1500
        expected += [0x2A, 0x03, 0x00, 0xFF, 0x00]  // payload with zero bytes
        XCTAssertEqual(request.serializedBytes(), expected)
        XCTAssertEqual(try RequestEnvelope(serializedBytes: expected), request)
    }

    func testResponseEnvelopeDistinguishesAbsentAndEmptyStatus() throws {
        XCTAssertEqual(ResponseEnvelope(id: 7).serializedBytes(), [0x08, 0x07])
        XCTAssertNil(try ResponseEnvelope(serializedBytes: [0x08, 0x07]).status)

        // A present but all-default Status is still sent: 12 00.
        let empty = ResponseEnvelope(id: 7, status: Status())
        XCTAssertEqual(empty.serializedBytes(), [0x08, 0x07, 0x12, 0x00])
        XCTAssertEqual(try ResponseEnvelope(serializedBytes: [0x08, 0x07, 0x12, 0x00]).status, Status())
    }

    func testResponseEnvelopeWithStatusHasExactBytes() throws {
        let response = ResponseEnvelope(
            id: 0,
            status: Status(code: 14, message: "draining", reason: "GOAWAY", details: ["field": "id"]),
            payload: []
        )
        var status: [UInt8] = [0x08, 0x0E]
        status += [0x12, 0x08] + Array("draining".utf8)
        status += [0x1A, 0x06] + Array("GOAWAY".utf8)
        status += [0x22, 0x0B, 0x0A, 0x05] + Array("field".utf8) + [0x12, 0x02] + Array("id".utf8)
        let expected: [UInt8] = [0x12, UInt8(status.count)] + status
        XCTAssertEqual(response.serializedBytes(), expected)
        XCTAssertEqual(try ResponseEnvelope(serializedBytes: expected), response)
    }

    func testMapEntriesWithEmptyKeyOrValueRoundTrip() throws {
        let status = Status(details: ["": "x", "k": ""])
        // Entries sorted by key; the default-valued key or value is omitted.
        XCTAssertEqual(
            status.serializedBytes(),
            [0x22, 0x03, 0x12, 0x01, 0x78, 0x22, 0x03, 0x0A, 0x01, 0x6B]
        )
        try assertRoundTrips(status)
    }

    func testMapEncodingIsIndependentOfInsertionOrder() {
        var forward: [String: String] = [:]
        var backward: [String: String] = [:]
        let keys = (0..<200).map { "key-\($0)" }
        for key in keys { forward[key] = key.uppercased() }
        for key in keys.reversed() { backward[key] = key.uppercased() }
        XCTAssertEqual(
            RequestEnvelope(metadata: forward).serializedBytes(),
            RequestEnvelope(metadata: backward).serializedBytes()
        )
    }

    func testRepeatedMapKeyKeepsTheLastValue() throws {
        let bytes: [UInt8] = [
            0x22, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0x31,  // k = 1
            0x22, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0x32,  // k = 2
        ]
        XCTAssertEqual(try Status(serializedBytes: bytes).details, ["k": "2"])
    }

    func testEmptyInputDecodesToDefaults() throws {
        XCTAssertEqual(try RequestEnvelope(serializedBytes: []), RequestEnvelope())
        XCTAssertEqual(try ResponseEnvelope(serializedBytes: []), ResponseEnvelope())
        XCTAssertEqual(try Status(serializedBytes: []), Status())
        XCTAssertEqual(try HealthCheckResponse(serializedBytes: []).status, .unknown)
        XCTAssertEqual(RequestEnvelope().serializedBytes(), [])
    }

    func testDecodesFromAPointerIntoALargerBuffer() throws {
        // The server decodes straight out of a NIO ByteBuffer: the message is a
        // window of a larger buffer, and the bytes around it must be ignored.
        let buffer: [UInt8] = [0xFF, 0xFF] + requestBytes + [0xFF, 0x00]
        let request = try buffer.withUnsafeBytes { raw in
            try RequestEnvelope(serializedBytes: UnsafeRawBufferPointer(rebasing: raw[2..<(2 + requestBytes.count)]))
        }
        XCTAssertEqual(request, RequestEnvelope(id: 1, method: "x", payload: [1, 2]))
    }

    func testHealthCheckMessages() throws {
        XCTAssertEqual(
            HealthCheckRequest(service: "portal.v1.Portal").serializedBytes(),
            [0x0A, 0x10] + Array("portal.v1.Portal".utf8)
        )
        XCTAssertEqual(HealthCheckResponse(status: .notServing).serializedBytes(), [0x08, 0x02])
        XCTAssertEqual(try HealthCheckResponse(serializedBytes: [0x08, 0x01]).status, .serving)
        XCTAssertEqual(HealthCheckResponse(status: .unknown).serializedBytes(), [])
    }

    func testMessageNames() {
        XCTAssertEqual(RequestEnvelope.protoMessageName, "portal.v1.RequestEnvelope")
        XCTAssertEqual(ResponseEnvelope.protoMessageName, "portal.v1.ResponseEnvelope")
        XCTAssertEqual(Status.protoMessageName, "portal.v1.Status")
        XCTAssertEqual(HealthCheckResponse.protoMessageName, "portal.v1.HealthCheckResponse")
        XCTAssertEqual(ListBlocksRequest.protoMessageName, "portal.v1.ListBlocksRequest")
    }
}
