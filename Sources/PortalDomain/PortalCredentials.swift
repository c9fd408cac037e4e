/// The username of a portal login: 3–64 characters of `a-z`, `A-Z`, `0-9`,
/// `.`, `_`, `-` and `@` (so an e-mail address works). Case-sensitive:
/// `Alice` and `alice` are two usernames.
public struct PortalUsername: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The username.
    public let rawValue: String

    /// Validates a username.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_USERNAME`.
    public init(_ text: String, field: String = "username") throws(PortalError) {
        let bytes = Array(text.utf8)
        guard (3...64).contains(bytes.count),
            bytes.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "@")
            })
        else {
            throw .invalidArgument(
                .invalidUsername,
                "A username is 3-64 characters of a-z, A-Z, 0-9, '.', '_', '-' and '@'.",
                field: field)
        }
        self.rawValue = text
    }

    /// Wraps a username read back from the store.
    package init(uncheckedRawValue: String) { self.rawValue = uncheckedRawValue }

    /// The username.
    public var description: String { rawValue }

    /// Byte order.
    public static func < (lhs: PortalUsername, rhs: PortalUsername) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// A password as the caller typed it. Its bytes are only ever handed to the
/// password hash; `description` is redacted so that it never reaches a log.
///
/// A new login's password is 8–256 bytes of UTF-8; a password presented at
/// login is 1–256 bytes (the upper bound keeps the password hash's work per
/// request bounded; the lower one at login lets an old, shorter password
/// still be tried rather than refused as malformed).
public struct PortalPassword: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The fewest bytes a new password may have.
    public static let minimumNewByteCount = 8
    /// The most bytes any password may have.
    public static let maximumByteCount = 256

    /// The password's UTF-8 bytes.
    public let bytes: [UInt8]

    /// Validates the password of a new login (`CreatePortalLogin`).
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_PASSWORD`
    ///   outside 8–256 bytes.
    public init(new text: String, field: String = "password") throws(PortalError) {
        let bytes = Array(text.utf8)
        guard (Self.minimumNewByteCount...Self.maximumByteCount).contains(bytes.count) else {
            throw .invalidArgument(
                .invalidPassword, "A password must be 8-256 bytes long.", field: field)
        }
        self.bytes = bytes
    }

    /// Validates a password presented at login (`Login`).
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_PASSWORD`
    ///   when empty or longer than 256 bytes.
    public init(presented text: String, field: String = "password") throws(PortalError) {
        let bytes = Array(text.utf8)
        guard (1...Self.maximumByteCount).contains(bytes.count) else {
            throw .invalidArgument(
                .invalidPassword, "A password is 1-256 bytes long.", field: field)
        }
        self.bytes = bytes
    }

    /// Redacted.
    public var description: String { "PortalPassword(…)" }
    /// Redacted.
    public var debugDescription: String { description }
}

/// The secret token of a portal session: 256 bits from the system's
/// cryptographically secure generator, written as 43 base64url characters
/// (RFC 4648 §5, no padding).
///
/// The server hands it out once, at login, and keeps only its SHA-256 hash;
/// it is never logged (`description` is redacted).
public struct SessionToken: Hashable, Sendable, CustomStringConvertible,
    CustomDebugStringConvertible
{
    /// Number of random bytes in a token (256 bits).
    public static let byteCount = 32
    /// Length of the token's text form.
    public static let textLength = 43

    /// The token as it travels on the wire.
    public let rawValue: String

    /// A fresh token from the system CSPRNG (``BufferedSystemRandom``).
    public static func generate() -> SessionToken {
        var generator = BufferedSystemRandom()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        while bytes.count < byteCount {
            var word = generator.next()
            for _ in 0..<8 where bytes.count < byteCount {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return SessionToken(uncheckedRawValue: base64URLEncode(bytes))
    }

    /// A token presented by a caller, or `nil` when it is not in the format
    /// this server issues (which the caller should answer exactly like an
    /// unknown token).
    public init?(presented text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == SessionToken.textLength,
            bytes.allSatisfy({ base64URLValue($0) != nil })
        else { return nil }
        self.rawValue = text
    }

    package init(uncheckedRawValue: String) { self.rawValue = uncheckedRawValue }

    /// Redacted.
    public var description: String { "SessionToken(…)" }
    /// Redacted.
    public var debugDescription: String { description }
}

/// A new portal session, as `Login` returns it.
public struct PortalSession: Sendable, Hashable {
    /// The secret token; shown to the caller once, stored only as a hash.
    public let token: SessionToken
    /// The client the session acts for.
    public let client: ClientID
    /// When the session stops working.
    public let expiresAt: Instant

    /// Creates a value.
    public init(token: SessionToken, client: ClientID, expiresAt: Instant) {
        self.token = token
        self.client = client
        self.expiresAt = expiresAt
    }
}

/// The value of one base64url character, or `nil`.
package func base64URLValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
    case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
    case UInt8(ascii: "-"): return 62
    case UInt8(ascii: "_"): return 63
    default: return nil
    }
}

/// Decodes base64url without padding (RFC 4648 §5), or `nil` for anything
/// ``base64URLEncode(_:)`` would not have written (bad characters, a length
/// of 1 mod 4, or non-zero trailing bits).
package func base64URLDecode(_ text: String) -> [UInt8]? {
    let input = Array(text.utf8)
    guard input.count % 4 != 1 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(input.count * 3 / 4)
    var buffer: UInt32 = 0
    var bits = 0
    for byte in input {
        guard let value = base64URLValue(byte) else { return nil }
        buffer = buffer << 6 | UInt32(value)
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            buffer &= (1 << UInt32(bits)) - 1
        }
    }
    // Canonical form only: the leftover bits must be zero.
    guard buffer == 0 else { return nil }
    return out
}
