/// The code of a bookable service: `walk`, `daycare`, `puppy-visit`, …
///
/// 1–32 characters of `a-z`, `0-9`, `_` and `-`, starting with a letter.
public struct ServiceCode: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The code as written on the wire.
    public let rawValue: String

    /// Validates a service code.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_SERVICE_CODE`.
    public init(_ text: String, field: String = "service_code") throws(PortalError) {
        let bytes = text.utf8
        guard (1...32).contains(bytes.count),
            let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
            bytes.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            })
        else {
            throw .invalidArgument(
                .invalidServiceCode,
                "A service code is 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter.",
                field: field)
        }
        self.rawValue = text
    }

    /// The code.
    public var description: String { rawValue }

    /// Alphabetical order (the codes are ASCII).
    public static func < (lhs: ServiceCode, rhs: ServiceCode) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// The defaults of one bookable service: how long a booking lasts and what it
/// costs. The server's price is authoritative.
///
/// ```swift
/// let walk = try ServiceDefaults(
///     code: ServiceCode("walk"), durationMinutes: 60,
///     priceCents: 1500, currency: "gbp", notes: "Group walk")
/// ```
public struct ServiceDefaults: Hashable, Sendable {
    /// The service's code, its key.
    public let code: ServiceCode
    /// Length of one booking in minutes, 1–1440.
    public let durationMinutes: Int
    /// Price of one booking in minor units, 0 to ``largestPriceCents``.
    public let priceCents: Int64
    /// ISO 4217 code of a currency in circulation, three lower-case letters
    /// ("gbp"), as Stripe writes it.
    public let currency: String
    /// Free text for staff, at most 1000 characters (Unicode scalars).
    public let notes: String

    /// The largest price: Stripe takes amounts of at most eight digits in
    /// minor units (999,999.99 in a two-decimal currency); a larger price
    /// could never be paid.
    public static let largestPriceCents: Int64 = 99_999_999

    /// Validates and creates service defaults.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` with `INVALID_DURATION`
    ///   (field `duration_minutes`), `INVALID_PRICE` (`price_cents`),
    ///   `INVALID_CURRENCY` (`currency`) or `INVALID_NOTES` (`notes`).
    public init(
        code: ServiceCode, durationMinutes: Int, priceCents: Int64, currency: String,
        notes: String = ""
    ) throws(PortalError) {
        guard (1...1440).contains(durationMinutes) else {
            throw .invalidArgument(
                .invalidDuration, "The duration must be 1-1440 minutes.", field: "duration_minutes")
        }
        guard (0...Self.largestPriceCents).contains(priceCents) else {
            throw .invalidArgument(
                .invalidPrice, "The price must be 0-99999999 in minor units (the most one card payment takes).",
                field: "price_cents")
        }
        let currencyBytes = Array(currency.utf8)
        guard currencyBytes.count == 3,
            currencyBytes.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }),
            CurrencyCodes.contains(currency)
        else {
            throw .invalidArgument(
                .invalidCurrency,
                "The currency must be the ISO 4217 code of a currency in circulation, in three lower-case letters, e.g. \"gbp\".",
                field: "currency")
        }
        guard notes.unicodeScalars.count <= 1000 else {
            throw .invalidArgument(
                .invalidNotes, "Notes may be at most 1000 characters.", field: "notes")
        }
        self.code = code
        self.durationMinutes = durationMinutes
        self.priceCents = priceCents
        self.currency = currency
        self.notes = notes
    }
}

extension String {
    /// Decodes request bytes as UTF-8, refusing invalid sequences with a
    /// precise error instead of repairing them.
    ///
    /// The wire layer uses it for every string field it receives, so that
    /// "not valid UTF-8" is reported like any other bad input.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` with the given reason and field.
    public init(
        validatingRequestUTF8 bytes: some Collection<UInt8>, field: String,
        reason: PortalError.Reason
    ) throws(PortalError) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument(reason, "The text is not valid UTF-8.", field: field)
        }
        self = text
    }
}
