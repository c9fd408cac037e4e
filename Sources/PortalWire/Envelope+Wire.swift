#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import PortalMessages

/// Limits of the wire protocol shared by server and client.
public enum WireDefaults {
    /// The default maximum frame body length: 4 MiB.
    public static let maximumFrameLength = 4 * 1024 * 1024
}

/// Metadata keys the protocol defines (keys are lower case).
public enum MetadataKey {
    /// Credentials: `Bearer <admin API key or portal session token>`.
    public static let authorization = "authorization"
}

extension MetadataKey {
    /// The token of an `authorization: Bearer <token>` entry of `metadata`, if any.
    public static func bearerToken(in metadata: [String: String]) -> String? {
        guard var value = metadata[authorization] else { return nil }
        // Byte-wise on the contiguous UTF-8: this runs on every
        // authenticated call, and the prefix is ASCII.
        return value.withUTF8 { bytes -> String? in
            let prefix: StaticString = "Bearer "
            let count = prefix.utf8CodeUnitCount
            guard bytes.count > count,
                memcmp(bytes.baseAddress!, prefix.utf8Start, count) == 0
            else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[count...]), as: UTF8.self)
        }
    }
}

extension Status {
    /// The status that reports `error` on the wire (its `cause` stays behind).
    public init(_ error: RPCError) {
        self.init(
            code: error.code.rawValue, message: error.message,
            reason: error.reason.rawValue, details: error.details)
    }
}

extension RPCError {
    /// The error a peer reported in a non-OK `Status`.
    public init(status: Status) {
        self.init(
            code: StatusCode(rawValue: status.code), reason: ErrorReason(status.reason),
            message: status.message, details: status.details)
    }
}

extension ResponseEnvelope {
    /// A successful answer carrying an encoded response message.
    public init(id: UInt64, payload: [UInt8]) {
        self.init(id: id, status: Status(code: 0), payload: payload)
    }

    /// A failed answer (or, with id 0, a frame the server sends on its own).
    public init(id: UInt64, error: RPCError) {
        self.init(id: id, status: Status(error), payload: [])
    }
}

extension ByteBuffer {
    /// Writes `message` as one frame.
    public mutating func writeFrame(_ message: some ProtoMessage) {
        writeFrame(message.serializedBytes())
    }
}

extension ProtoMessage {
    /// Decodes the readable bytes of `buffer` without copying them first.
    public init(buffer: ByteBuffer) throws(ProtoDecodingError) {
        do {
            self = try buffer.withUnsafeReadableBytes { raw in try Self(serializedBytes: raw) }
        } catch let error as ProtoDecodingError {
            throw error
        } catch {
            throw ProtoDecodingError(kind: .malformed, field: nil)
        }
    }
}

extension ProtoDecodingError {
    /// The INVALID_ARGUMENT answer for a payload that does not decode.
    public var rpcError: RPCError {
        var details: [String: String] = [:]
        if let field { details["field"] = field }
        return RPCError(
            code: .invalidArgument, reason: .malformedPayload,
            message: "Request payload could not be decoded: \(self).", details: details)
    }
}

extension ByteBuffer {
    /// Writes one frame holding the OK `ResponseEnvelope` of request `id`
    /// with `payload` (an encoded response message), encoded straight into
    /// the buffer: no envelope value, no C struct, no intermediate array.
    ///
    /// The bytes are exactly protobuf-c's encoding of
    /// `ResponseEnvelope(id: id, payload: payload)`: `id` (field 1, left out
    /// when 0), an empty `status` (field 2, length 0 — OK with no reason),
    /// then `payload` (field 3, left out when empty).
    public mutating func writeOKResponseFrame(id: UInt64, payload: [UInt8]) {
        var bodyLength = 2
        if id != 0 { bodyLength += 1 + Self.varintLength(id) }
        if !payload.isEmpty { bodyLength += 1 + Self.varintLength(UInt64(payload.count)) + payload.count }
        reserveCapacity(minimumWritableBytes: 4 + bodyLength)
        writeInteger(UInt32(bodyLength), endianness: .big)
        if id != 0 {
            writeInteger(UInt8(0x08))  // field 1, varint
            writeVarint(id)
        }
        writeInteger(UInt16(0x1200), endianness: .big)  // field 2, length-delimited, 0 bytes
        if !payload.isEmpty {
            writeInteger(UInt8(0x1A))  // field 3, length-delimited
            writeVarint(UInt64(payload.count))
            writeBytes(payload)
        }
    }

    private static func varintLength(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    private mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        writeInteger(UInt8(rest))
    }
}
