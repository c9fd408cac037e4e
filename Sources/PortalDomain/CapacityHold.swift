#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The unguessable token of a ``CapacityHold``: 32 base64url characters
/// (RFC 4648 §5 alphabet, no padding) — 8 that encode the millisecond it was
/// made, then 144 bits from a cryptographically secure generator.
///
/// The time comes first, written with the base64url characters in ASCII
/// order, so that tokens sort by the time they were made: a new hold's
/// token — and the idempotency keys derived from it — lands next to the
/// last ones in the store's unique indexes, on a page that is already in
/// memory, instead of on a random page of a large index (perf: random keys
/// were a large part of the writer's page writes under checkout load). The
/// 144 random bits keep it unguessable; its creation time is no secret
/// from its holder.
///
/// The token is what lets a client finalize or cancel its checkout, so it is
/// never logged.
public struct HoldToken: Hashable, Sendable, CustomStringConvertible {
    /// Number of random bytes in a token (144 bits).
    public static let randomByteCount = 18
    /// Length of the token's text form.
    public static let textLength = 32

    /// The token as it travels on the wire.
    public let rawValue: String

    /// A fresh token made now, its random part from the system's CSPRNG
    /// (``BufferedSystemRandom``).
    public static func generate() -> HoldToken {
        var generator = BufferedSystemRandom()
        return generate(using: &generator, atMillisecond: currentUnixMilliseconds())
    }

    /// A token from the given generator (which must be a CSPRNG in
    /// production; tests may pass a seeded one), made at `millisecond`
    /// since 1970 (only its low 48 bits are kept).
    public static func generate<G: RandomNumberGenerator>(
        using generator: inout G, atMillisecond millisecond: UInt64
    ) -> HoldToken {
        var text: [UInt8] = []
        text.reserveCapacity(textLength)
        for shift in stride(from: 42, through: 0, by: -6) {
            text.append(sortedBase64URLAlphabet[Int(millisecond >> UInt64(shift) & 63)])
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(randomByteCount)
        while bytes.count < randomByteCount {
            var word = generator.next()
            for _ in 0..<8 where bytes.count < randomByteCount {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        text.append(contentsOf: base64URLEncode(bytes).utf8)
        return HoldToken(uncheckedRawValue: String(decoding: text, as: UTF8.self))
    }

    /// Validates a token received from a client (format only: whether a
    /// hold has it is the store's question).
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_HOLD_TOKEN`.
    public init(_ text: String, field: String = "hold_token") throws(PortalError) {
        let bytes = Array(text.utf8)
        guard bytes.count == HoldToken.textLength, bytes.allSatisfy(isBase64URL) else {
            throw .invalidArgument(
                .invalidHoldToken, "The hold token is not one this server issues.", field: field)
        }
        self.rawValue = text
    }

    /// Wraps a token read back from the store.
    package init(uncheckedRawValue: String) { self.rawValue = uncheckedRawValue }

    /// A redacted form, safe for logs: the token itself is a secret.
    public var description: String { "HoldToken(…)" }
}

/// The lifecycle of a ``CapacityHold``.
public enum HoldState: String, Hashable, Sendable, CaseIterable {
    /// Live until `expiresAt`; counts against capacity until then.
    case active
    /// Turned into a booking; no longer counts (the booking does).
    case converted
    /// Given up by the client or refused by payment; never counts.
    case cancelled
    /// Its time ran out (set by the sweeper); never counts.
    case expired
}

/// A short-lived claim on one slot of a block while the client pays.
///
/// A hold counts against capacity only while it is ``HoldState/active`` and
/// `expiresAt` is after now; an expired hold never counts, even before the
/// purge removes it.
public struct CapacityHold: Hashable, Sendable {
    /// The hold's unguessable token.
    public let token: HoldToken
    /// The block held.
    public let block: BlockID
    /// The service held.
    public let service: ServiceCode
    /// The client holding it.
    public let client: ClientID
    /// When the hold was taken.
    public let createdAt: Instant
    /// When it stops counting against capacity.
    public let expiresAt: Instant
    /// Its state as stored; see ``isActive(at:)`` for whether it counts.
    public let state: HoldState
    /// The price of the slot at the time of the hold, minor units (the
    /// server's price from the service defaults).
    public let amountCents: Int64
    /// Currency of `amountCents`.
    public let currency: String
    /// The payment that pays for it, once checkout has created one.
    public let paymentIntentID: String?

    /// Creates a hold value (the store creates real holds).
    public init(
        token: HoldToken, block: BlockID, service: ServiceCode, client: ClientID,
        createdAt: Instant, expiresAt: Instant, state: HoldState, amountCents: Int64,
        currency: String, paymentIntentID: String?
    ) {
        self.token = token
        self.block = block
        self.service = service
        self.client = client
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.state = state
        self.amountCents = amountCents
        self.currency = currency
        self.paymentIntentID = paymentIntentID
    }

    /// Whether the hold counts against capacity at `now`.
    public func isActive(at now: Instant) -> Bool {
        state == .active && expiresAt > now
    }
}

/// What `createHold` returned: a new hold, or the client's existing live hold
/// for the same block and service (a retry never takes a second slot).
public struct HoldOutcome: Hashable, Sendable {
    /// The hold.
    public let hold: CapacityHold
    /// True when this call took the slot; false when it returned the
    /// client's existing live hold.
    public let isNew: Bool

    /// Creates an outcome.
    public init(hold: CapacityHold, isNew: Bool) {
        self.hold = hold
        self.isNew = isNew
    }
}

private func isBase64URL(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
}

/// The 64 base64url characters in ASCII order, so that equal-length texts
/// written with them compare like the numbers they encode.
private let sortedBase64URLAlphabet = Array("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz".utf8)

/// Milliseconds since 1970 from the system's real-time clock.
private func currentUnixMilliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec / 1_000_000)
}

/// base64url without padding (RFC 4648 §5).
package func base64URLEncode(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count * 4 + 2) / 3)
    var index = 0
    while index + 3 <= bytes.count {
        let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
        out.append(alphabet[Int(chunk >> 18 & 63)])
        out.append(alphabet[Int(chunk >> 12 & 63)])
        out.append(alphabet[Int(chunk >> 6 & 63)])
        out.append(alphabet[Int(chunk & 63)])
        index += 3
    }
    let rest = bytes.count - index
    if rest == 1 {
        let chunk = UInt32(bytes[index]) << 16
        out.append(alphabet[Int(chunk >> 18 & 63)])
        out.append(alphabet[Int(chunk >> 12 & 63)])
    } else if rest == 2 {
        let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
        out.append(alphabet[Int(chunk >> 18 & 63)])
        out.append(alphabet[Int(chunk >> 12 & 63)])
        out.append(alphabet[Int(chunk >> 6 & 63)])
    }
    return String(decoding: out, as: UTF8.self)
}
