import PortalMessages
import XCTest

final class DecodingErrorTests: XCTestCase {
    private let request: [UInt8] = [0x08, 0x01, 0x12, 0x01, 0x78, 0x2A, 0x02, 0x01, 0x02]

    // MARK: malformed

    func testTruncatedInputIsMalformed() {
        // Cut inside the payload, inside the method string, after a tag, and
        // inside a varint.
        assertDecodingFails(RequestEnvelope.self, Array(request.prefix(8)), kind: .malformed, field: nil)
        assertDecodingFails(RequestEnvelope.self, Array(request.prefix(3)), kind: .malformed, field: nil)
        assertDecodingFails(RequestEnvelope.self, [0x08], kind: .malformed, field: nil)
        assertDecodingFails(RequestEnvelope.self, [0x08, 0x80], kind: .malformed, field: nil)
        // A nested message whose length runs past its parent.
        assertDecodingFails(ResponseEnvelope.self, [0x12, 0x05, 0x08, 0x01], kind: .malformed)
    }

    func testEveryTruncationInsideAFieldIsMalformed() throws {
        let fields = [
            RequestEnvelope(id: 99),
            RequestEnvelope(method: "portal.v1.Portal/ListBlocks"),
            RequestEnvelope(metadata: ["authorization": "Bearer t"]),
            RequestEnvelope(timeoutMs: 250),
            RequestEnvelope(payload: [9, 8, 7]),
        ].map { $0.serializedBytes() }
        // Fields are encoded in number order, so the whole message is the
        // concatenation; a cut anywhere but between two fields is malformed.
        let full = fields.reduce([], +)
        XCTAssertEqual(
            full,
            RequestEnvelope(
                id: 99, method: "portal.v1.Portal/ListBlocks", metadata: ["authorization": "Bearer t"],
                timeoutMs: 250, payload: [9, 8, 7]
            ).serializedBytes())
        var boundaries: Set<Int> = [0]
        var offset = 0
        for field in fields {
            offset += field.count
            boundaries.insert(offset)
        }
        for cut in 0..<full.count {
            let prefix = Array(full.prefix(cut))
            if boundaries.contains(cut) {
                XCTAssertNoThrow(try RequestEnvelope(serializedBytes: prefix), "cut at \(cut)")
            } else {
                assertDecodingFails(RequestEnvelope.self, prefix, kind: .malformed)
            }
        }
    }

    func testGarbageIsMalformed() {
        assertDecodingFails(RequestEnvelope.self, [0xFF, 0xFF, 0xFF], kind: .malformed, field: nil)
        assertDecodingFails(RequestEnvelope.self, Array("GET / HTTP/1.1\r\n\r\n".utf8), kind: .malformed)
        // Field number 0.
        assertDecodingFails(RequestEnvelope.self, [0x00, 0x01], kind: .malformed)
        // Wire types 6 and 7 do not exist; 3 and 4 are groups.
        assertDecodingFails(RequestEnvelope.self, [0x0E, 0x01], kind: .malformed)
        assertDecodingFails(RequestEnvelope.self, [0x0F, 0x01], kind: .malformed)
        assertDecodingFails(RequestEnvelope.self, [0x0B, 0x0C], kind: .malformed)
        // An 11-byte varint.
        assertDecodingFails(RequestEnvelope.self, [0x08] + Array(repeating: 0xFF, count: 10) + [0x01], kind: .malformed)
        // A length far beyond the input.
        assertDecodingFails(RequestEnvelope.self, [0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x61], kind: .malformed)
    }

    func testWrongWireTypeIsMalformed() {
        // method (a string) sent as a varint; status (a message) as a varint;
        // id (a varint) sent length-delimited.
        assertDecodingFails(RequestEnvelope.self, [0x10, 0x05], kind: .malformed)
        assertDecodingFails(ResponseEnvelope.self, [0x10, 0x05], kind: .malformed)
        assertDecodingFails(RequestEnvelope.self, [0x0A, 0x01, 0x01], kind: .malformed)
    }

    func testUnknownFieldsAreSkipped() throws {
        // Field 15 (length-delimited, not valid UTF-8) and field 16 (varint)
        // are not part of RequestEnvelope: they are skipped, not checked.
        let bytes: [UInt8] = request + [0x7A, 0x02, 0xFF, 0x00, 0x80, 0x01, 0x05]
        XCTAssertEqual(try RequestEnvelope(serializedBytes: bytes), RequestEnvelope(id: 1, method: "x", payload: [1, 2]))
    }

    // MARK: strings

    func testInvalidUTF8InATopLevelStringNamesTheField() {
        assertDecodingFails(RequestEnvelope.self, [0x12, 0x02, 0x61, 0xFF], kind: .invalidUTF8, field: "method")
    }

    func testInvalidUTF8InANestedStringNamesThePath() {
        // ResponseEnvelope.status.message = C3 28 (a lead byte without its continuation)
        assertDecodingFails(
            ResponseEnvelope.self, [0x12, 0x04, 0x12, 0x02, 0xC3, 0x28], kind: .invalidUTF8, field: "status.message")
        // UpsertServiceRequest.service.notes = FF
        assertDecodingFails(
            UpsertServiceRequest.self, [0x0A, 0x03, 0x2A, 0x01, 0xFF], kind: .invalidUTF8, field: "service.notes")
        // GetDayResponse.blocks[0].block.label = ED A0 80 (a UTF-16 surrogate)
        assertDecodingFails(
            GetDayResponse.self, [0x12, 0x07, 0x0A, 0x05, 0x2A, 0x03, 0xED, 0xA0, 0x80],
            kind: .invalidUTF8, field: "blocks.block.label")
    }

    func testInvalidUTF8InAMapNamesKeyOrValue() {
        assertDecodingFails(
            RequestEnvelope.self, [0x1A, 0x05, 0x0A, 0x01, 0x61, 0x12, 0x00, 0x1A, 0x03, 0x12, 0x01, 0x80],
            kind: .invalidUTF8, field: "metadata.value")
        assertDecodingFails(
            ResponseEnvelope.self, [0x12, 0x05, 0x22, 0x03, 0x0A, 0x01, 0xC0],
            kind: .invalidUTF8, field: "status.details.key")
    }

    func testEmbeddedNULIsRefusedWithThePath() {
        assertDecodingFails(RequestEnvelope.self, [0x12, 0x03, 0x61, 0x00, 0x62], kind: .embeddedNUL, field: "method")
        assertDecodingFails(
            RequestEnvelope.self, [0x1A, 0x06, 0x0A, 0x01, 0x61, 0x12, 0x01, 0x00],
            kind: .embeddedNUL, field: "metadata.value")
        assertDecodingFails(
            ResponseEnvelope.self, [0x12, 0x04, 0x1A, 0x02, 0x00, 0x41], kind: .embeddedNUL, field: "status.reason")
        // NUL in a long ASCII string (past the eight-byte fast path).
        let long = Array(repeating: UInt8(ascii: "a"), count: 37) + [0] + Array(repeating: UInt8(ascii: "b"), count: 9)
        assertDecodingFails(
            RequestEnvelope.self, [0x12, UInt8(long.count)] + long, kind: .embeddedNUL, field: "method")
    }

    func testBytesFieldsMayHoldAnything() throws {
        let bytes: [UInt8] = [0x2A, 0x04, 0x00, 0xFF, 0xC0, 0x00]
        XCTAssertEqual(try RequestEnvelope(serializedBytes: bytes).payload, [0x00, 0xFF, 0xC0, 0x00])
    }

    func testUTF8ValidationIsStrict() {
        let invalid: [[UInt8]] = [
            [0xC0, 0x80],  // overlong NUL
            [0xC1, 0xBF],  // overlong
            [0xE0, 0x80, 0x80],  // overlong 3-byte
            [0xED, 0xBF, 0xBF],  // surrogate
            [0xF0, 0x80, 0x80, 0x80],  // overlong 4-byte
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF5, 0x80, 0x80, 0x80],
            [0xE2, 0x82],  // truncated sequence
            [0x80],  // lone continuation byte
            [0xE2, 0x28, 0xA1],
        ]
        for sequence in invalid {
            assertDecodingFails(
                HealthCheckRequest.self, [0x0A, UInt8(sequence.count)] + sequence, kind: .invalidUTF8, field: "service")
        }
        let valid = ["é", "€", "𐍈", "\u{10FFFF}", "\u{D7FF}", "\u{E000}", "Zoë 🐕 日本語"]
        for string in valid {
            XCTAssertEqual(
                try HealthCheckRequest(serializedBytes: HealthCheckRequest(service: string).serializedBytes()).service,
                string)
        }
    }

    // MARK: the error itself

    func testErrorDescriptionsAreShortAndHideTheData() {
        XCTAssertEqual(
            ProtoDecodingError(kind: .invalidUTF8, field: "service.notes").description,
            "string field 'service.notes' is not valid UTF-8")
        XCTAssertEqual(
            ProtoDecodingError(kind: .embeddedNUL, field: "method").description,
            "string field 'method' contains a NUL byte")
        XCTAssertEqual(ProtoDecodingError(kind: .malformed).description, "malformed protobuf message")
        XCTAssertEqual(ProtoDecodingError.Kind.invalidUTF8.description, "invalidUTF8")
        XCTAssertNotEqual(ProtoDecodingError(kind: .malformed), ProtoDecodingError(kind: .malformed, field: "x"))

        do {
            _ = try HealthCheckRequest(serializedBytes: [0x0A, 0x06] + Array("secret".utf8) + [])
            _ = try HealthCheckRequest(serializedBytes: [0x0A, 0x07] + Array("secret".utf8) + [0xFF])
            XCTFail("expected an error")
        } catch {
            XCTAssertFalse(error.description.contains("secret"))
        }
    }
}
