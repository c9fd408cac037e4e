internal import CProtobufC

/// Walks the wire encoding of a message before protobuf-c unpacks it and
/// checks every string field, at any depth (including map keys and values),
/// because protobuf-c accepts invalid UTF-8 and silently cuts a string at its
/// first NUL byte.
///
/// The walk is driven by the protobuf-c descriptors: a length-delimited field
/// whose descriptor says `STRING` is checked, one that says `MESSAGE` is walked
/// recursively, everything else (and unknown fields) is skipped. Framing errors
/// found on the way are reported as `malformed`; anything else protobuf-c
/// rejects is caught when it unpacks.
enum WireValidator {
    /// Deeper nesting is refused (the contract nests three levels at most).
    static let maxDepth = 64

    /// Checks `bytes` as an encoding of the message described by `descriptor`.
    static func validate(
        _ bytes: UnsafeRawBufferPointer,
        descriptor: UnsafePointer<ProtobufCMessageDescriptor>
    ) throws(ProtoDecodingError) {
        try validateMessage(bytes, descriptor, depth: 0)
    }

    private static func validateMessage(
        _ bytes: UnsafeRawBufferPointer,
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        depth: Int
    ) throws(ProtoDecodingError) {
        guard depth < maxDepth else { throw ProtoDecodingError(kind: .malformed) }
        var reader = WireReader(bytes)
        while !reader.isAtEnd {
            let tag = try reader.readVarint()
            let fieldNumber = tag >> 3
            guard fieldNumber >= 1, fieldNumber <= 0x1FFF_FFFF else {
                throw ProtoDecodingError(kind: .malformed)
            }
            switch tag & 7 {
            case 0:
                _ = try reader.readVarint()
            case 1:
                try reader.skip(8)
            case 5:
                try reader.skip(4)
            case 2:
                let length = try reader.readVarint()
                let payload = try reader.take(length)
                guard let field = fieldDescriptor(UInt32(fieldNumber), in: descriptor) else { continue }
                let type = field.pointee.type
                if type == PROTOBUF_C_TYPE_STRING {
                    if let problem = checkString(payload) {
                        throw ProtoDecodingError(kind: problem, field: String(cString: field.pointee.name))
                    }
                } else if type == PROTOBUF_C_TYPE_MESSAGE, let nested = field.pointee.descriptor {
                    do {
                        try validateMessage(
                            payload, nested.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), depth: depth + 1)
                    } catch {
                        throw error.nested(in: String(cString: field.pointee.name))
                    }
                }
            default:
                // Groups (3, 4) and the undefined wire types 6 and 7:
                // protobuf-c cannot decode them either.
                throw ProtoDecodingError(kind: .malformed)
            }
        }
    }

    /// The descriptor of field `number`; protoc-c sorts `fields` by number.
    private static func fieldDescriptor(
        _ number: UInt32,
        in descriptor: UnsafePointer<ProtobufCMessageDescriptor>
    ) -> UnsafePointer<ProtobufCFieldDescriptor>? {
        guard let fields = descriptor.pointee.fields else { return nil }
        var low = 0
        var high = Int(descriptor.pointee.n_fields)
        while low < high {
            let mid = (low + high) / 2
            let id = fields[mid].id
            if id == number { return fields + mid }
            if id < number { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    /// `nil` when `bytes` is valid UTF-8 without NUL, else the first problem.
    ///
    /// Strict UTF-8 (Unicode Table 3-7): no overlong forms, no surrogates,
    /// nothing above U+10FFFF.
    static func checkString(_ bytes: UnsafeRawBufferPointer) -> ProtoDecodingError.Kind? {
        let count = bytes.count
        var i = 0
        // Fast path: eight ASCII bytes without NUL at a time.
        while i + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let highBits: UInt64 = 0x8080_8080_8080_8080
            let hasZeroByte = (word &- 0x0101_0101_0101_0101) & ~word & highBits
            if word & highBits != 0 || hasZeroByte != 0 { break }
            i += 8
        }
        while i < count {
            let lead = bytes[i]
            if lead < 0x80 {
                if lead == 0 { return .embeddedNUL }
                i += 1
                continue
            }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            default: return .invalidUTF8
            }
            guard i + length <= count, secondRange.contains(bytes[i + 1]) else { return .invalidUTF8 }
            var k = 2
            while k < length {
                guard bytes[i + k] & 0xC0 == 0x80 else { return .invalidUTF8 }
                k += 1
            }
            i += length
        }
        return nil
    }
}

/// A cursor over wire bytes; every read is bounds-checked.
private struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset >= bytes.count }

    /// A base-128 varint of at most 10 bytes.
    mutating func readVarint() throws(ProtoDecodingError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 70 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw ProtoDecodingError(kind: .malformed)
    }

    mutating func skip(_ count: Int) throws(ProtoDecodingError) {
        guard bytes.count - offset >= count else { throw ProtoDecodingError(kind: .malformed) }
        offset += count
    }

    /// The next `count` bytes (a length-delimited payload).
    mutating func take(_ count: UInt64) throws(ProtoDecodingError) -> UnsafeRawBufferPointer {
        guard count <= UInt64(bytes.count - offset) else { throw ProtoDecodingError(kind: .malformed) }
        let start = offset
        offset += Int(count)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
    }
}
