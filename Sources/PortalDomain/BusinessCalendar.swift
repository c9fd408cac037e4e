import Foundation

/// The business's local calendar: one IANA time zone in which every block's
/// date and times are wall-clock values.
///
/// It answers the two questions the domain asks of time: what is "today"
/// for the business, and at which instant does a block start, so that a block
/// that has already started cannot be held or booked, across DST changes too.
///
/// ```swift
/// let calendar = try BusinessCalendar(timeZoneIdentifier: "Europe/London")
/// let today = calendar.today(at: clock.now)
/// let start = calendar.instant(of: today, at: try TimeOfDay("09:00"))
/// ```
///
/// Wall-clock times that do not exist or exist twice are resolved as most
/// calendars do:
/// - a time skipped when clocks go forward (01:30 on the day London moves
///   from GMT to BST) is read with the offset in force before the change,
///   which lands the same length of time after the change (02:30 BST);
/// - a time that happens twice when clocks go back (01:30 on the day London
///   moves from BST to GMT) is its first occurrence (01:30 BST), so a block
///   counts as started as soon as that wall-clock time is first reached.
public struct BusinessCalendar: Sendable, Hashable {
    /// The zone, e.g. `Europe/London`.
    public let timeZone: TimeZone

    /// The calendar of an IANA time zone name.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_TIME_ZONE`
    ///   (field `time_zone`) when the name is not a known zone.
    public init(timeZoneIdentifier identifier: String) throws(PortalError) {
        guard !identifier.isEmpty, let zone = TimeZone(identifier: identifier) else {
            throw .invalidArgument(
                .invalidTimeZone, "The time zone must be an IANA name such as Europe/London.",
                field: "time_zone")
        }
        self.timeZone = zone
    }

    /// The zone's IANA identifier.
    public var identifier: String { timeZone.identifier }

    /// The UTC offset in force at `instant`, in seconds.
    public func utcOffsetSeconds(at instant: Instant) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.unixSeconds)))
    }

    /// The business's local date at `instant`: "today" when given the clock's now.
    public func today(at instant: Instant) -> LocalDate {
        let local = instant.unixSeconds + Int64(utcOffsetSeconds(at: instant))
        return LocalDate(daysSince1970: Int(floorDivide(local, 86_400)))
    }

    /// The business's local time of day at `instant`, to the minute.
    public func timeOfDay(at instant: Instant) -> TimeOfDay {
        let local = instant.unixSeconds + Int64(utcOffsetSeconds(at: instant))
        let secondsOfDay = local - floorDivide(local, 86_400) * 86_400
        return TimeOfDay(minutesSinceMidnight: Int(secondsOfDay / 60))!
    }

    /// The instant at which the wall-clock `time` of `date` happens in the
    /// business's zone (see the type's notes for skipped and repeated times).
    public func instant(of date: LocalDate, at time: TimeOfDay) -> Instant {
        // The wall-clock reading written as if it were UTC.
        let wall = Int64(date.daysSince1970) * 86_400 + Int64(time.minutesSinceMidnight) * 60
        let offsetBefore = utcOffsetSeconds(at: Instant(unixSeconds: wall - 86_400))
        let offsetAt = utcOffsetSeconds(at: Instant(unixSeconds: wall))
        let offsetAfter = utcOffsetSeconds(at: Instant(unixSeconds: wall + 86_400))

        // Each offset in force around that day proposes an instant; keep
        // those whose own offset reads back the same wall-clock time.
        var matches: [Int64] = []
        for offset in [offsetBefore, offsetAt, offsetAfter] {
            let candidate = wall - Int64(offset)
            if candidate + Int64(utcOffsetSeconds(at: Instant(unixSeconds: candidate))) == wall {
                matches.append(candidate)
            }
        }
        if let first = matches.min() {
            return Instant(unixSeconds: first)
        }
        // Skipped by a forward change: read with the earlier offset.
        return Instant(unixSeconds: wall - Int64(offsetBefore))
    }

    /// Whether the wall-clock `time` of `date` has been reached at `now`:
    /// a block that has started can no longer be held or booked.
    public func hasStarted(_ date: LocalDate, at time: TimeOfDay, now: Instant) -> Bool {
        // No zone is more than 18 hours from UTC (Foundation's bound), so a
        // wall-clock time further than that from `now` is answered without
        // the six zone look-ups of `instant(of:at:)` (perf: ≈ 0.8 % of the
        // server's CPU under checkout load, where every hold asks).
        let wall = Int64(date.daysSince1970) * 86_400 + Int64(time.minutesSinceMidnight) * 60
        let widestOffset: Int64 = 18 * 3_600
        if wall - widestOffset > now.unixSeconds { return false }
        if wall + widestOffset <= now.unixSeconds { return true }
        return instant(of: date, at: time) <= now
    }
}

/// Division rounding towards negative infinity.
private func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    let quotient = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
}
