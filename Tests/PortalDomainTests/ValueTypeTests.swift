import PortalDomain
import XCTest

/// Asserts that `body` throws a `PortalError` of the given kind, reason and field.
func assertPortalError<T>(
    _ kind: PortalError.Kind, _ reason: PortalError.Reason, field: String? = nil,
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
) {
    do {
        _ = try body()
        XCTFail("expected \(reason), got a value", file: file, line: line)
    } catch let error as PortalError {
        XCTAssertEqual(error.kind, kind, file: file, line: line)
        XCTAssertEqual(error.reason, reason, file: file, line: line)
        if let field { XCTAssertEqual(error.field, field, file: file, line: line) }
        XCTAssertFalse(error.message.isEmpty, file: file, line: line)
    } catch {
        XCTFail("expected PortalError, got \(error)", file: file, line: line)
    }
}

final class LocalDateTests: XCTestCase {
    func testParsesAndPrintsRealDates() throws {
        let date = try LocalDate("2025-10-08")
        XCTAssertEqual(date.year, 2025)
        XCTAssertEqual(date.month, 10)
        XCTAssertEqual(date.day, 8)
        XCTAssertEqual(date.description, "2025-10-08")
        XCTAssertEqual(try LocalDate("0001-01-01").description, "0001-01-01")
        XCTAssertEqual(try LocalDate("9999-12-31").description, "9999-12-31")
    }

    func testAcceptsFebruary29OnlyInLeapYears() throws {
        XCTAssertNoThrow(try LocalDate("2024-02-29"))
        XCTAssertNoThrow(try LocalDate("2000-02-29"))
        assertPortalError(.invalidArgument, .invalidDate, field: "date") { try LocalDate("2025-02-29") }
        assertPortalError(.invalidArgument, .invalidDate) { try LocalDate("1900-02-29") }
    }

    func testRefusesMalformedDatesWithTheFieldName() {
        for text in [
            "", "2025-1-08", "2025/10/08", "25-10-08", "2025-10-8", "2025-13-01", "2025-00-10",
            "2025-04-31", "2025-10-00", "0000-01-01", "２０２５-10-08", "2025-10-08 ", "+025-10-08",
        ] {
            assertPortalError(.invalidArgument, .invalidDate, field: "from_date") {
                try LocalDate(text, field: "from_date")
            }
        }
    }

    func testDayArithmeticCrossesMonthsYearsAndLeapDays() throws {
        XCTAssertEqual(try LocalDate("2025-10-09").previousDay, try LocalDate("2025-10-08"))
        XCTAssertEqual(try LocalDate("2025-03-01").previousDay, try LocalDate("2025-02-28"))
        XCTAssertEqual(try LocalDate("2024-03-01").previousDay, try LocalDate("2024-02-29"))
        XCTAssertEqual(try LocalDate("2025-01-01").previousDay, try LocalDate("2024-12-31"))
        XCTAssertEqual(try LocalDate("2024-12-31").nextDay, try LocalDate("2025-01-01"))
        XCTAssertEqual(try LocalDate("1970-01-01").daysSince1970, 0)
        XCTAssertEqual(try LocalDate("1969-12-31").daysSince1970, -1)
        XCTAssertEqual(try LocalDate("2000-03-01").daysSince1970, 11_017)
        // Round trip over four centuries, one leap cycle of the Gregorian calendar.
        var date = try LocalDate("1900-01-01")
        for _ in 0..<(146_097) {
            let next = date.nextDay
            XCTAssertEqual(next.daysSince1970, date.daysSince1970 + 1)
            XCTAssertEqual(LocalDate(daysSince1970: next.daysSince1970), next)
            date = next
        }
        XCTAssertEqual(date, try LocalDate("2300-01-01"))
    }

    func testOrdersChronologically() throws {
        XCTAssertLessThan(try LocalDate("2025-09-30"), try LocalDate("2025-10-01"))
        XCTAssertLessThan(try LocalDate("2024-12-31"), try LocalDate("2025-01-01"))
    }
}

final class TimeOfDayTests: XCTestCase {
    func testParsesHHMM() throws {
        XCTAssertEqual(try TimeOfDay("00:00").minutesSinceMidnight, 0)
        XCTAssertEqual(try TimeOfDay("09:30").minutesSinceMidnight, 570)
        XCTAssertEqual(try TimeOfDay("23:59").minutesSinceMidnight, 1439)
        XCTAssertEqual(try TimeOfDay("07:05").description, "07:05")
    }

    func testRefusesMalformedTimes() {
        for text in ["", "9:00", "09:0", "24:00", "12:60", "0900", "09-00", "09:00:00", "ab:cd", " 9:00"] {
            assertPortalError(.invalidArgument, .invalidTime, field: "start_time") {
                try TimeOfDay(text, field: "start_time")
            }
        }
    }

    func testBlockTimesNeedEndAfterStart() throws {
        XCTAssertNoThrow(try BlockTimes(start: "09:00", end: "12:00"))
        assertPortalError(.invalidArgument, .invalidTimeRange, field: "end_time") {
            try BlockTimes(start: "12:00", end: "12:00")
        }
        assertPortalError(.invalidArgument, .invalidTimeRange, field: "end_time") {
            try BlockTimes(start: "12:00", end: "09:00")
        }
        assertPortalError(.invalidArgument, .invalidTime, field: "start_time") {
            try BlockTimes(start: "25:00", end: "26:00")
        }
        assertPortalError(.invalidArgument, .invalidTime, field: "end_time") {
            try BlockTimes(start: "09:00", end: "9")
        }
    }

    func testSpansOverlapOnlyWhenTheyShareAMinute() throws {
        let date = try LocalDate("2025-10-08")
        let morning = LocalTimeSpan(date: date, start: try TimeOfDay("09:00"), durationMinutes: 60)
        let ten = LocalTimeSpan(date: date, start: try TimeOfDay("10:00"), durationMinutes: 60)
        let half = LocalTimeSpan(date: date, start: try TimeOfDay("09:30"), durationMinutes: 60)
        XCTAssertFalse(morning.overlaps(ten))
        XCTAssertTrue(morning.overlaps(half))
        XCTAssertTrue(morning.overlaps(morning))
        // A late booking crosses midnight into the next day's early block.
        let late = LocalTimeSpan(date: date, start: try TimeOfDay("22:00"), durationMinutes: 480)
        let early = LocalTimeSpan(date: date.nextDay, start: try TimeOfDay("05:00"), durationMinutes: 60)
        XCTAssertTrue(late.overlaps(early))
    }
}

final class ServiceAndLabelTests: XCTestCase {
    func testServiceCodes() throws {
        XCTAssertEqual(try ServiceCode("walk").rawValue, "walk")
        XCTAssertNoThrow(try ServiceCode("puppy-visit_2"))
        XCTAssertNoThrow(try ServiceCode(String(repeating: "a", count: 32)))
        for text in ["", "Walk", "1walk", "-walk", "walk!", "wälk", String(repeating: "a", count: 33), "day care"] {
            assertPortalError(.invalidArgument, .invalidServiceCode, field: "service_code") {
                try ServiceCode(text)
            }
        }
    }

    func testServiceDefaultsBounds() throws {
        let walk = try ServiceCode("walk")
        XCTAssertNoThrow(try ServiceDefaults(code: walk, durationMinutes: 1, priceCents: 0, currency: "gbp"))
        XCTAssertNoThrow(try ServiceDefaults(code: walk, durationMinutes: 1440, priceCents: 1, currency: "eur"))
        assertPortalError(.invalidArgument, .invalidDuration, field: "duration_minutes") {
            try ServiceDefaults(code: walk, durationMinutes: 0, priceCents: 0, currency: "gbp")
        }
        assertPortalError(.invalidArgument, .invalidDuration, field: "duration_minutes") {
            try ServiceDefaults(code: walk, durationMinutes: 1441, priceCents: 0, currency: "gbp")
        }
        assertPortalError(.invalidArgument, .invalidPrice, field: "price_cents") {
            try ServiceDefaults(code: walk, durationMinutes: 60, priceCents: -1, currency: "gbp")
        }
        assertPortalError(.invalidArgument, .invalidPrice, field: "price_cents") {
            try ServiceDefaults(code: walk, durationMinutes: 60, priceCents: 100_000_000, currency: "gbp")
        }
        XCTAssertNoThrow(
            try ServiceDefaults(code: walk, durationMinutes: 60, priceCents: 99_999_999, currency: "gbp"))
        // Three lower-case letters are not enough: the code must name a currency
        // in circulation (no fund, metal, test or withdrawn codes).
        for currency in ["", "GBP", "gb", "gbpp", "g1p", "zzq", "xts", "xxx", "xau", "hrk"] {
            assertPortalError(.invalidArgument, .invalidCurrency, field: "currency") {
                try ServiceDefaults(code: walk, durationMinutes: 60, priceCents: 0, currency: currency)
            }
        }
        for currency in ["gbp", "eur", "usd", "jpy", "chf", "xof", "zwg"] {
            XCTAssertNoThrow(
                try ServiceDefaults(code: walk, durationMinutes: 60, priceCents: 0, currency: currency), currency)
        }
        XCTAssertNoThrow(
            try ServiceDefaults(
                code: walk, durationMinutes: 60, priceCents: 0, currency: "gbp",
                notes: String(repeating: "é", count: 1000)))
        assertPortalError(.invalidArgument, .invalidNotes, field: "notes") {
            try ServiceDefaults(
                code: walk, durationMinutes: 60, priceCents: 0, currency: "gbp",
                notes: String(repeating: "n", count: 1001))
        }
    }

    func testLabels() throws {
        XCTAssertEqual(try BlockLabel("Morning Run 07:00–10:30").rawValue, "Morning Run 07:00–10:30")
        XCTAssertNoThrow(try BlockLabel(String(repeating: "ü", count: 100)))
        assertPortalError(.invalidArgument, .invalidLabel, field: "label") { try BlockLabel("") }
        assertPortalError(.invalidArgument, .invalidLabel) { try BlockLabel("   ") }
        assertPortalError(.invalidArgument, .invalidLabel) { try BlockLabel("a\nb") }
        assertPortalError(.invalidArgument, .invalidLabel) { try BlockLabel("a\u{7F}b") }
        assertPortalError(.invalidArgument, .invalidLabel) { try BlockLabel(" \t ") }
        XCTAssertEqual(try BlockLabel(" ~ ").rawValue, " ~ ")
        XCTAssertNoThrow(try BlockLabel(String(repeating: "x", count: 100)))
        assertPortalError(.invalidArgument, .invalidLabel) { try BlockLabel("a\u{0}b") }
        assertPortalError(.invalidArgument, .invalidLabel) {
            try BlockLabel(String(repeating: "x", count: 101))
        }
        // Bytes that are not UTF-8 are refused, not repaired.
        assertPortalError(.invalidArgument, .invalidLabel, field: "label") {
            try BlockLabel(utf8: [0x4D, 0xFF, 0x72])
        }
        assertPortalError(.invalidArgument, .invalidLabel) { try BlockLabel(utf8: [0xC3]) }
        XCTAssertEqual(try BlockLabel(utf8: Array("Après-midi".utf8)).rawValue, "Après-midi")
    }

    func testCapacityBounds() throws {
        let block = BlockID(rawValue: 1)
        let walk = try ServiceCode("walk")
        XCTAssertNoThrow(try BlockCapacity(block: block, service: walk, capacity: 0, allowOverlap: false))
        XCTAssertNoThrow(try BlockCapacity(block: block, service: walk, capacity: 10_000, allowOverlap: true))
        assertPortalError(.invalidArgument, .invalidCapacity, field: "capacity") {
            try BlockCapacity(block: block, service: walk, capacity: -1, allowOverlap: false)
        }
        assertPortalError(.invalidArgument, .invalidCapacity, field: "capacity") {
            try BlockCapacity(block: block, service: walk, capacity: 10_001, allowOverlap: false)
        }
    }

    func testRemainingNeverGoesBelowZero() throws {
        let walk = try ServiceCode("walk")
        XCTAssertEqual(CapacityUsage(service: walk, capacity: 5, allowOverlap: false, booked: 2, held: 1).remaining, 2)
        XCTAssertEqual(CapacityUsage(service: walk, capacity: 2, allowOverlap: false, booked: 3, held: 1).remaining, 0)
    }

    func testIDsMustBePositive() {
        assertPortalError(.invalidArgument, .invalidID, field: "block_id") { try BlockID(validating: 0) }
        assertPortalError(.invalidArgument, .invalidID, field: "new_block_id") {
            try BlockID(validating: -3, field: "new_block_id")
        }
        assertPortalError(.invalidArgument, .invalidID, field: "client_id") { try ClientID(validating: 0) }
        XCTAssertEqual(try BlockID(validating: 7).rawValue, 7)
    }
}

final class HoldTokenTests: XCTestCase {
    func testTokensAreLongRandomAndURLSafe() throws {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let token = HoldToken.generate()
            XCTAssertEqual(token.rawValue.utf8.count, 32)  // 48-bit time + 144 random bits in base64url
            XCTAssertNoThrow(try HoldToken(token.rawValue))
            seen.insert(token.rawValue)
        }
        XCTAssertEqual(seen.count, 1000)
        // Made in the same millisecond, two tokens still differ in their 144 random bits.
        var generator = SystemRandomNumberGenerator()
        let now: UInt64 = 1_764_115_200_000
        let first = HoldToken.generate(using: &generator, atMillisecond: now)
        let second = HoldToken.generate(using: &generator, atMillisecond: now)
        XCTAssertEqual(first.rawValue.prefix(8), second.rawValue.prefix(8))
        XCTAssertNotEqual(first.rawValue.dropFirst(8), second.rawValue.dropFirst(8))
    }

    func testTokensSortByTheTimeTheyWereMade() {
        // Byte-wise (SQLite's BINARY collation, the unique index on holds.token).
        var generator = SystemRandomNumberGenerator()
        var previous = HoldToken.generate(using: &generator, atMillisecond: 0).rawValue
        var millisecond: UInt64 = 0
        for step: UInt64 in [1, 9, 10, 52, 61, 62, 63, 64, 4095, 4096, 262_143, 1 << 30, 1_764_115_200_000] {
            millisecond += step
            let token = HoldToken.generate(using: &generator, atMillisecond: millisecond).rawValue
            XCTAssertTrue(
                previous.utf8.prefix(8).lexicographicallyPrecedes(token.utf8.prefix(8)),
                "\(previous.prefix(8)) then \(token.prefix(8)) at \(millisecond)")
            XCTAssertNoThrow(try HoldToken(token))
            previous = token
        }
    }

    func testTokenDescriptionIsRedacted() {
        let token = HoldToken.generate()
        XCTAssertFalse("\(token)".contains(token.rawValue))
    }

    func testRefusesMalformedTokens() {
        for text in ["", "short", String(repeating: "a", count: 31), String(repeating: "+", count: 32)] {
            assertPortalError(.invalidArgument, .invalidHoldToken, field: "hold_token") { try HoldToken(text) }
        }
    }

    func testBase64URLMatchesRFC4648() {
        // RFC 4648 §10 test vectors, in the URL-safe alphabet without padding.
        XCTAssertEqual(base64URLEncode(Array("".utf8)), "")
        XCTAssertEqual(base64URLEncode(Array("f".utf8)), "Zg")
        XCTAssertEqual(base64URLEncode(Array("fo".utf8)), "Zm8")
        XCTAssertEqual(base64URLEncode(Array("foo".utf8)), "Zm9v")
        XCTAssertEqual(base64URLEncode(Array("foobar".utf8)), "Zm9vYmFy")
        XCTAssertEqual(base64URLEncode([0xFB, 0xFF]), "-_8")
    }
}

final class BufferedSystemRandomTests: XCTestCase {
    /// Words from many threads at once, across many refills of the buffer:
    /// no word is handed out twice, and the bits look like the kernel's
    /// (about half of them set, every bit position used).
    func testWordsAreNeverHandedOutTwiceAndLookRandom() async {
        let perTask = 2_000
        let words = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var generator = BufferedSystemRandom()
                    return (0..<perTask).map { _ in generator.next() }
                }
            }
            var all: [UInt64] = []
            for await part in group { all += part }
            return all
        }
        XCTAssertEqual(words.count, 8 * perTask)
        XCTAssertEqual(Set(words).count, words.count, "a word was handed out twice")
        let ones = words.reduce(0) { $0 + $1.nonzeroBitCount }
        let fraction = Double(ones) / Double(words.count * 64)
        XCTAssertEqual(fraction, 0.5, accuracy: 0.01)
        let union = words.reduce(UInt64(0)) { $0 | $1 }
        XCTAssertEqual(union, .max, "some bit position was never set")
        let intersection = words.reduce(UInt64.max) { $0 & $1 }
        XCTAssertEqual(intersection, 0, "some bit position was always set")
    }
}
