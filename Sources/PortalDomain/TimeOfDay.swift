/// A wall-clock time of day in the business's time zone, written `HH:MM`
/// (24-hour clock, 00:00–23:59).
///
/// ```swift
/// let start = try TimeOfDay("09:00", field: "start_time")
/// start.minutesSinceMidnight   // 540
/// ```
public struct TimeOfDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Minutes since midnight, 0–1439.
    public let minutesSinceMidnight: Int

    /// Parses an `HH:MM` string: exactly two digits, a colon, two digits.
    ///
    /// - Parameters:
    ///   - text: the time, 00:00–23:59.
    ///   - field: the proto field name to report in the error's details.
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_TIME`.
    public init(_ text: String, field: String = "time") throws(PortalError) {
        let bytes = Array(text.utf8)
        guard bytes.count == 5, bytes[2] == UInt8(ascii: ":"),
            let hour = parseDigits(bytes[0..<2]),
            let minute = parseDigits(bytes[3..<5]),
            let time = TimeOfDay(hour: hour, minute: minute)
        else {
            throw .invalidArgument(
                .invalidTime, "The time must be written HH:MM, from 00:00 to 23:59.",
                field: field)
        }
        self = time
    }

    /// A time from its parts, or `nil` outside 00:00–23:59.
    public init?(hour: Int, minute: Int) {
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        self.minutesSinceMidnight = hour * 60 + minute
    }

    /// A time from minutes since midnight, or `nil` outside 0–1439.
    public init?(minutesSinceMidnight: Int) {
        guard (0..<1440).contains(minutesSinceMidnight) else { return nil }
        self.minutesSinceMidnight = minutesSinceMidnight
    }

    /// The hour, 0–23.
    public var hour: Int { minutesSinceMidnight / 60 }
    /// The minute, 0–59.
    public var minute: Int { minutesSinceMidnight % 60 }

    /// `HH:MM`.
    public var description: String { "\(pad(hour, 2)):\(pad(minute, 2))" }

    /// Earlier times first.
    public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool {
        lhs.minutesSinceMidnight < rhs.minutesSinceMidnight
    }
}

/// A span of local wall-clock time, in minutes since 1970-01-01 00:00 local
/// time (half-open: `start..<end`).
///
/// Used to decide whether two bookings or holds of one client overlap; it
/// may cross midnight (a 20:00 booking of 480 minutes ends at 04:00 the next
/// day).
public struct LocalTimeSpan: Hashable, Sendable {
    /// First local minute of the span.
    public let start: Int
    /// First local minute after the span.
    public let end: Int

    /// The span of a booking that starts at `time` on `date` and lasts
    /// `durationMinutes`.
    public init(date: LocalDate, start time: TimeOfDay, durationMinutes: Int) {
        self.start = date.daysSince1970 * 1440 + time.minutesSinceMidnight
        self.end = start + durationMinutes
    }

    /// Whether the two spans share at least one minute.
    public func overlaps(_ other: LocalTimeSpan) -> Bool {
        start < other.end && other.start < end
    }
}
