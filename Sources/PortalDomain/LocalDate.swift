/// A calendar date in the business's time zone, written `YYYY-MM-DD`.
///
/// Only real proleptic-Gregorian dates between 0001-01-01 and 9999-12-31 are
/// accepted (so `2024-02-29` is, `2025-02-29` is not). Dates compare and
/// sort chronologically, and can move by whole days:
///
/// ```swift
/// let today = try LocalDate("2025-10-09")
/// let yesterday = today.adding(days: -1)   // 2025-10-08
/// ```
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The year, 1–9999.
    public let year: Int
    /// The month, 1–12.
    public let month: Int
    /// The day of the month, 1–31 (as the month allows).
    public let day: Int

    /// Parses a `YYYY-MM-DD` string.
    ///
    /// - Parameters:
    ///   - text: exactly ten characters, `YYYY-MM-DD`, digits in ASCII.
    ///   - field: the proto field name to report in the error's details.
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_DATE`.
    public init(_ text: String, field: String = "date") throws(PortalError) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = parseDigits(bytes[0..<4]),
            let month = parseDigits(bytes[5..<7]),
            let day = parseDigits(bytes[8..<10])
        else {
            throw .invalidArgument(
                .invalidDate, "The date must be written YYYY-MM-DD.", field: field)
        }
        guard let date = LocalDate(year: year, month: month, day: day) else {
            throw .invalidArgument(
                .invalidDate, "The date is not a real calendar date.", field: field)
        }
        self = date
    }

    /// A date from its parts, or `nil` when they do not name a real date
    /// between 0001-01-01 and 9999-12-31.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            day >= 1, day <= LocalDate.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `daysSince1970` days after 1970-01-01 (negative: before).
    ///
    /// Precondition: the result lies between 0001-01-01 and 9999-12-31.
    public init(daysSince1970 days: Int) {
        // Howard Hinnant's civil_from_days, exact for the proleptic
        // Gregorian calendar.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        precondition((1...9999).contains(y), "LocalDate out of range")
        self.year = y
        self.month = m
        self.day = d
    }

    /// Days since 1970-01-01 (negative before it).
    public var daysSince1970: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` days later (earlier when negative).
    ///
    /// Precondition: the result lies between 0001-01-01 and 9999-12-31.
    public func adding(days: Int) -> LocalDate {
        LocalDate(daysSince1970: daysSince1970 + days)
    }

    /// The day before: the source of "copy yesterday".
    public var previousDay: LocalDate { adding(days: -1) }

    /// The day after.
    public var nextDay: LocalDate { adding(days: 1) }

    /// Whether `year` is a Gregorian leap year.
    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// The number of days of `month` in `year`.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Chronological order.
    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

/// Parses a run of ASCII digits; `nil` on anything else.
func parseDigits(_ bytes: ArraySlice<UInt8>) -> Int? {
    var value = 0
    for byte in bytes {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return value
}

/// Left-pads a non-negative number with zeros to `width` digits.
func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width
        ? digits : String(repeating: "0", count: width - digits.count) + digits
}
