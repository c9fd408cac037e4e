/// Why bytes could not be decoded as a message.
///
/// The description is short English that never includes the offending data,
/// so it is safe to log and to send back to a client.
public struct ProtoDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The category of a decoding failure.
    ///
    /// A struct rather than an enum so that kinds can be added later without
    /// breaking exhaustive `switch`es.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: Sendable, Hashable {
            case malformed
            case invalidUTF8
            case embeddedNUL
        }

        private let code: Code

        private init(_ code: Code) {
            self.code = code
        }

        /// The bytes are not a valid protobuf encoding of the message:
        /// truncated, an impossible tag or length, a field with the wrong wire
        /// type, …
        public static let malformed = Kind(.malformed)
        /// A string field is not valid UTF-8.
        public static let invalidUTF8 = Kind(.invalidUTF8)
        /// A string field contains a NUL byte (U+0000), which this service
        /// refuses because its C layer stores strings NUL-terminated.
        public static let embeddedNUL = Kind(.embeddedNUL)

        /// The kind's name: `"malformed"`, `"invalidUTF8"` or `"embeddedNUL"`.
        public var description: String {
            switch code {
            case .malformed: "malformed"
            case .invalidUTF8: "invalidUTF8"
            case .embeddedNUL: "embeddedNUL"
            }
        }
    }

    /// What went wrong.
    public let kind: Kind

    /// The dotted path, in proto field names, of the offending field from the
    /// decoded message (e.g. `"service.notes"`, or `"details.value"` for a map
    /// value); `nil` when no single field is to blame.
    public let field: String?

    /// An error of the given kind, blaming `field` when it is known.
    public init(kind: Kind, field: String? = nil) {
        self.kind = kind
        self.field = field
    }

    /// E.g. `string field 'service.notes' is not valid UTF-8`.
    public var description: String {
        switch kind {
        case .invalidUTF8:
            return field.map { "string field '\($0)' is not valid UTF-8" } ?? "a string field is not valid UTF-8"
        case .embeddedNUL:
            return field.map { "string field '\($0)' contains a NUL byte" } ?? "a string field contains a NUL byte"
        default:
            return field.map { "malformed protobuf message (in field '\($0)')" } ?? "malformed protobuf message"
        }
    }

    /// The same error seen from the message that contains `parentField`.
    func nested(in parentField: String) -> ProtoDecodingError {
        guard let field else { return self }
        return ProtoDecodingError(kind: kind, field: parentField + "." + field)
    }
}
