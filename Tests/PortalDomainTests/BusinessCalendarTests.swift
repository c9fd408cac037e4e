import PortalDomain
import XCTest

final class BusinessCalendarTests: XCTestCase {
    private func instant(_ iso: String) -> Instant {
        // "YYYY-MM-DDTHH:MMZ" → Unix seconds, without Foundation's parsers.
        let date = try! LocalDate(String(iso.prefix(10)))
        let time = try! TimeOfDay(String(iso.dropFirst(11).prefix(5)))
        return Instant(unixSeconds: Int64(date.daysSince1970) * 86_400 + Int64(time.minutesSinceMidnight) * 60)
    }

    func testRefusesUnknownZones() {
        assertPortalError(.invalidArgument, .invalidTimeZone, field: "time_zone") {
            try BusinessCalendar(timeZoneIdentifier: "Mars/Olympus_Mons")
        }
        assertPortalError(.invalidArgument, .invalidTimeZone) { try BusinessCalendar(timeZoneIdentifier: "") }
        XCTAssertNoThrow(try BusinessCalendar(timeZoneIdentifier: "Europe/London"))
        XCTAssertNoThrow(try BusinessCalendar(timeZoneIdentifier: "UTC"))
    }

    func testOrdinaryTimesInSummerAndWinter() throws {
        let london = try BusinessCalendar(timeZoneIdentifier: "Europe/London")
        XCTAssertEqual(
            london.instant(of: try LocalDate("2025-10-08"), at: try TimeOfDay("09:00")),
            instant("2025-10-08T08:00Z"))  // BST = UTC+1
        XCTAssertEqual(
            london.instant(of: try LocalDate("2025-12-08"), at: try TimeOfDay("09:00")),
            instant("2025-12-08T09:00Z"))  // GMT
        let newYork = try BusinessCalendar(timeZoneIdentifier: "America/New_York")
        XCTAssertEqual(
            newYork.instant(of: try LocalDate("2025-07-01"), at: try TimeOfDay("09:00")),
            instant("2025-07-01T13:00Z"))
    }

    func testSkippedTimeWhenClocksGoForward() throws {
        // 2025-03-30: London jumps from 01:00 GMT to 02:00 BST; 01:30 never
        // happens and is read as 02:30 BST (= 01:30 UTC).
        let london = try BusinessCalendar(timeZoneIdentifier: "Europe/London")
        let day = try LocalDate("2025-03-30")
        XCTAssertEqual(london.instant(of: day, at: try TimeOfDay("00:30")), instant("2025-03-30T00:30Z"))
        XCTAssertEqual(london.instant(of: day, at: try TimeOfDay("01:30")), instant("2025-03-30T01:30Z"))
        XCTAssertEqual(london.instant(of: day, at: try TimeOfDay("02:30")), instant("2025-03-30T01:30Z"))
        XCTAssertEqual(london.instant(of: day, at: try TimeOfDay("09:00")), instant("2025-03-30T08:00Z"))
    }

    func testRepeatedTimeWhenClocksGoBackIsItsFirstOccurrence() throws {
        // 2025-10-26: London goes from 02:00 BST back to 01:00 GMT; 01:30
        // happens at 00:30 UTC and again at 01:30 UTC. The block starts at
        // the first.
        let london = try BusinessCalendar(timeZoneIdentifier: "Europe/London")
        let day = try LocalDate("2025-10-26")
        let start = try TimeOfDay("01:30")
        XCTAssertEqual(london.instant(of: day, at: start), instant("2025-10-26T00:30Z"))
        XCTAssertFalse(london.hasStarted(day, at: start, now: instant("2025-10-26T00:29Z")))
        XCTAssertTrue(london.hasStarted(day, at: start, now: instant("2025-10-26T00:30Z")))
        XCTAssertEqual(london.instant(of: day, at: try TimeOfDay("09:00")), instant("2025-10-26T09:00Z"))
    }

    func testHasStartedAgreesWithTheStartInstantNearAndFar() throws {
        // hasStarted answers times far from now without looking the zone up;
        // near or far, it must say what comparing with instant(of:at:) says.
        let start = try TimeOfDay("09:00")
        for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London", "Asia/Kolkata", "UTC"] {
            let calendar = try BusinessCalendar(timeZoneIdentifier: zone)
            for date in [try LocalDate("2025-03-30"), try LocalDate("2025-10-26"), try LocalDate("2030-06-03")] {
                let begins = calendar.instant(of: date, at: start).unixSeconds
                for minutes in stride(from: -48 * 60, through: 48 * 60, by: 15) + [-1, 1] {
                    let now = Instant(unixSeconds: begins + Int64(minutes) * 60 + (minutes == -1 ? 59 : 0))
                    XCTAssertEqual(
                        calendar.hasStarted(date, at: start, now: now), begins <= now.unixSeconds,
                        "\(zone) \(date) now \(now.unixSeconds)")
                }
            }
        }
    }

    func testTodayIsTheLocalDate() throws {
        let london = try BusinessCalendar(timeZoneIdentifier: "Europe/London")
        // 23:30 UTC on 8 October is 00:30 BST on 9 October.
        XCTAssertEqual(london.today(at: instant("2025-10-08T23:30Z")), try LocalDate("2025-10-09"))
        XCTAssertEqual(london.timeOfDay(at: instant("2025-10-08T23:30Z")), try TimeOfDay("00:30"))
        // In winter London is on UTC.
        XCTAssertEqual(london.today(at: instant("2025-12-08T23:30Z")), try LocalDate("2025-12-08"))
        let auckland = try BusinessCalendar(timeZoneIdentifier: "Pacific/Auckland")
        XCTAssertEqual(auckland.today(at: instant("2025-10-08T12:00Z")), try LocalDate("2025-10-09"))
        let honolulu = try BusinessCalendar(timeZoneIdentifier: "Pacific/Honolulu")
        XCTAssertEqual(honolulu.today(at: instant("2025-10-08T05:00Z")), try LocalDate("2025-10-07"))
    }

    func testManualClockMovesOnlyWhenTold() {
        let clock = ManualWallClock(now: Instant(unixSeconds: 1_000))
        XCTAssertEqual(clock.now, Instant(unixSeconds: 1_000))
        clock.advance(bySeconds: 601)
        XCTAssertEqual(clock.now, Instant(unixSeconds: 1_601))
        clock.set(to: Instant(unixSeconds: 5))
        XCTAssertEqual(clock.now.unixSeconds, 5)
        XCTAssertGreaterThan(SystemWallClock().now.unixSeconds, 1_700_000_000)
    }
}
