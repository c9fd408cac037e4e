import ArgumentParser

/// A local calendar date as the protocol writes it, `YYYY-MM-DD`, validated
/// as a real date (2025-02-29 is refused, 2024-02-29 is not).
struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    let year: Int
    let month: Int
    let day: Int

    /// Parses `YYYY-MM-DD` strictly: four, two and two digits, a real date.
    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            year >= 1, (1...12).contains(month),
            (1...LocalDate.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    private init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The argument transform: a usage error that says what is expected.
    static func parse(_ text: String) throws -> LocalDate {
        guard let date = LocalDate(text) else {
            throw ValidationError("expected a real calendar date as YYYY-MM-DD")
        }
        return date
    }

    /// The day before (across month and year ends and leap days).
    var previousDay: LocalDate {
        if day > 1 { return LocalDate(year: year, month: month, day: day - 1) }
        if month > 1 {
            return LocalDate(year: year, month: month - 1, day: LocalDate.daysIn(month: month - 1, year: year))
        }
        return LocalDate(year: year - 1, month: 12, day: 31)
    }

    var description: String {
        let y = String(year), m = String(month), d = String(day)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-"
            + (m.count < 2 ? "0" : "") + m + "-" + (d.count < 2 ? "0" : "") + d
    }

    static func < (a: LocalDate, b: LocalDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// A time of day as the protocol writes it, `HH:MM`, 00:00–23:59.
enum TimeOfDay {
    /// Checks `text` and returns it unchanged, or throws a usage error.
    static func parse(_ text: String) throws -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), hour < 24, minute < 60
        else {
            throw ValidationError("expected a time of day as HH:MM, 00:00-23:59")
        }
        return text
    }
}
