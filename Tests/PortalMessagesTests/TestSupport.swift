import PortalMessages
import XCTest

/// Asserts that decoding `bytes` as `M` fails with `kind` (and `field`, when given).
func assertDecodingFails<M: ProtoMessage>(
    _ type: M.Type,
    _ bytes: [UInt8],
    kind: ProtoDecodingError.Kind,
    field: String?? = .none,
    file: StaticString = #filePath,
    line: UInt = #line
) {
    do {
        let message = try M(serializedBytes: bytes)
        XCTFail("decoded \(message) from \(bytes), expected \(kind)", file: file, line: line)
    } catch {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        if case .some(let expectedField) = field {
            XCTAssertEqual(error.field, expectedField, "\(error)", file: file, line: line)
        }
    }
}

/// Encodes `message`, decodes the bytes and asserts the result is equal.
@discardableResult
func assertRoundTrips<M: ProtoMessage>(
    _ message: M,
    file: StaticString = #filePath,
    line: UInt = #line
) throws -> [UInt8] {
    let bytes = message.serializedBytes()
    let decoded = try M(serializedBytes: bytes)
    XCTAssertEqual(decoded, message, file: file, line: line)
    // Encoding is deterministic: the decoded copy encodes to the same bytes.
    XCTAssertEqual(decoded.serializedBytes(), bytes, file: file, line: line)
    return bytes
}
