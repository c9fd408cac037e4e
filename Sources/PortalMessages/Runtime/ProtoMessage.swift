/// A message of the Portal contract (`proto/portal/v1`), as a Swift value.
///
/// Every message type in `PortalMessages` conforms; the conformances are
/// generated from the `.proto` files by `scripts/gen-swift-messages.sh` and
/// encode and decode through the protobuf-c code in `PortalProtoC`.
///
/// ```swift
/// let request = ListBlocksRequest(date: "2025-10-08", serviceCode: "walk")
/// let bytes = request.serializedBytes()
/// let decoded = try ListBlocksRequest(serializedBytes: bytes)
/// assert(decoded == request)
/// ```
public protocol ProtoMessage: Sendable, Equatable {
    /// A message with every field at its proto3 default: zero numbers, empty
    /// strings, bytes, lists and maps, the zero enum value, and `nil` for
    /// message fields and one-field `oneof`s.
    init()

    /// Decodes a message from its wire bytes without copying them first.
    ///
    /// The bytes are only read during the call, so they may point into a
    /// buffer the caller owns (e.g. a NIO `ByteBuffer`'s readable bytes).
    /// Empty input decodes to ``init()``. Unknown fields are skipped.
    ///
    /// - Throws: ``ProtoDecodingError`` with kind `malformed` when the bytes
    ///   are not a valid encoding of the message, `invalidUTF8` or
    ///   `embeddedNUL` when a string field (at any depth) is not valid UTF-8
    ///   or contains a NUL byte; `field` names the offending string field.
    init(serializedBytes bytes: UnsafeRawBufferPointer) throws(ProtoDecodingError)

    /// The message's wire encoding.
    ///
    /// The output is deterministic: fields in number order, map entries
    /// sorted by key, default-valued fields omitted. protobuf-c stores strings
    /// NUL-terminated, so a string that contains U+0000 is encoded with each
    /// U+0000 replaced by U+FFFD (decoding never produces such a string).
    func serializedBytes() -> [UInt8]

    /// The message's fully-qualified proto name, e.g. `"portal.v1.ListBlocksRequest"`.
    static var protoMessageName: String { get }
}

extension ProtoMessage {
    /// Decodes a message from its wire bytes.
    ///
    /// - Throws: ``ProtoDecodingError``; see ``init(serializedBytes:)-(UnsafeRawBufferPointer)``.
    public init(serializedBytes bytes: [UInt8]) throws(ProtoDecodingError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtoDecodingError) in try Self(serializedBytes: raw) }
        }
        self = try result.get()
    }
}
