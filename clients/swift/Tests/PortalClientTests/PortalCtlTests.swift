import ArgumentParser
import PortalMessages
import PortalWire
import Testing

import struct PortalDomain.LocalDate
import struct PortalDomain.TimeOfDay

@testable import portalctl

@Suite("portalctl")
struct PortalCtlTests {
    // MARK: Dates

    @Test("Date arguments must be real calendar dates written YYYY-MM-DD")
    func dateValidation() {
        func parsed(_ text: String) -> String? { (try? LocalDate.parse(text))?.description }
        #expect(parsed("2025-10-08") == "2025-10-08")
        #expect(parsed("2024-02-29") == "2024-02-29")
        for invalid in [
            "2025-02-29", "2025-04-31", "2025-13-01", "2025-1-01", "25-01-01", "2025-10-08x", "2025/10/08", "",
            "２０２５-10-08",
        ] {
            #expect(parsed(invalid) == nil, "\(invalid)")
        }
    }

    @Test("Time arguments are HH:MM from 00:00 to 23:59, passed on as written")
    func timeValidation() {
        #expect((try? TimeOfDay.parse("09:05")) == "09:05")
        #expect((try? TimeOfDay.parse("23:59")) == "23:59")
        for invalid in ["24:00", "9:00", "09:60", "0900", "09:00 ", ""] {
            #expect((try? TimeOfDay.parse(invalid)) == nil, "\(invalid)")
        }
    }

    @Test("The day before crosses months, years and leap days")
    func previousDay() throws {
        let cases = [
            ("2025-10-08", "2025-10-07"), ("2025-03-01", "2025-02-28"), ("2024-03-01", "2024-02-29"),
            ("2025-01-01", "2024-12-31"), ("2025-05-01", "2025-04-30"),
        ]
        for (day, before) in cases {
            let command = try #require(try PortalCtl.parseAsRoot(["day", "copy", "--to", day]) as? DayCopyCommand)
            #expect(command.sourceDate.description == before)
        }
    }

    // MARK: Argument parsing

    @Test("day copy takes the day before --to when --from is not given")
    func copyDefaultsToYesterday() throws {
        let command = try #require(try PortalCtl.parseAsRoot(["day", "copy", "--to", "2025-10-08"]) as? DayCopyCommand)
        #expect(command.sourceDate.description == "2025-10-07")
        #expect(command.replace == false)

        let explicit = try #require(
            try PortalCtl.parseAsRoot(["day", "copy", "--to", "2025-10-09", "--from", "2025-10-01", "--replace"])
                as? DayCopyCommand)
        #expect(explicit.sourceDate.description == "2025-10-01")
        #expect(explicit.replace)
    }

    @Test("Invalid dates, times and missing arguments are usage errors (exit status 2)")
    func usageErrors() {
        let invalid: [[String]] = [
            ["day", "show", "2025-02-30"],
            ["day", "copy", "--to", "2025-10-8"],
            ["day", "copy", "--to", "2025-10-08", "--from", "2025-10-08"],
            ["block", "add", "2025-10-08", "09:00", "24:00", "Late"],
            ["block", "add", "2025-10-08", "12:00", "09:00", "Backwards"],
            ["block", "edit", "4"],
            ["capacity", "set", "1", "walk", "-1"],
            ["service", "set", "walk", "--duration", "0", "--price", "1500", "--currency", "gbp"],
            ["service", "set", "walk", "--duration", "60", "--price", "1500", "--currency", "pounds"],
            ["bookings"],
        ]
        for arguments in invalid {
            do {
                _ = try PortalCtl.parseAsRoot(arguments)
                Issue.record("accepted \(arguments)")
            } catch {
                #expect(PortalCtl.outcome(of: error).status == 2, "\(arguments)")
            }
        }
    }

    @Test("Valid commands parse")
    func validCommands() throws {
        let add = try #require(
            try PortalCtl.parseAsRoot(["block", "add", "2025-10-08", "09:00", "12:00", "Morning Run"]) as? BlockAddCommand)
        #expect(add.label == "Morning Run")
        let edit = try #require(try PortalCtl.parseAsRoot(["block", "edit", "4", "--label", "Late Run"]) as? BlockEditCommand)
        #expect(edit.label == "Late Run" && edit.start == nil)
        let capacity = try #require(
            try PortalCtl.parseAsRoot(["capacity", "set", "1", "walk", "5", "--allow-overlap", "--server", "h:1"])
                as? CapacitySetCommand)
        #expect(capacity.capacity == 5 && capacity.allowOverlap && capacity.global.server == "h:1")
        _ = try PortalCtl.parseAsRoot(["service", "set", "walk", "--duration", "60", "--price", "1500", "--currency", "gbp"])
        _ = try PortalCtl.parseAsRoot(["health"])
        _ = try PortalCtl.parseAsRoot(["bookings", "2025-10-08"])
    }

    @Test("Server addresses: flag, then PORTAL_SERVER, then 127.0.0.1:7420")
    func serverAddress() throws {
        var options = try GlobalOptions.parse([])
        #expect(try options.serverAddress(environment: [:]) == ("127.0.0.1", 7420))
        #expect(try options.serverAddress(environment: ["PORTAL_SERVER": "db.local:9000"]) == ("db.local", 9000))
        options.server = "[::1]:7421"
        #expect(try options.serverAddress(environment: ["PORTAL_SERVER": "db.local:9000"]) == ("::1", 7421))
        for bad in ["localhost", "host:0", "host:70000", ":7420", "host:x"] {
            #expect(throws: UsageFailure.self) { try GlobalOptions.parseAddress(bad) }
        }
    }

    @Test("The admin key comes from the flag, the key file, PORTAL_ADMIN_KEY, then var/admin.key")
    func adminKeyResolution() throws {
        let files = ["keys/admin": "from-file\n", "var/admin.key": "from-default-file\n"]
        let read: (String) -> String? = { files[$0] }
        let exists: (String) -> Bool = { files[$0] != nil }

        var options = try GlobalOptions.parse([])
        #expect(try options.resolveAdminKey(environment: [:], readFile: read, fileExists: exists) == "from-default-file")
        #expect(try options.resolveAdminKey(environment: ["PORTAL_ADMIN_KEY": "env"], readFile: read, fileExists: exists) == "env")
        #expect(try options.resolveAdminKey(environment: [:], readFile: { _ in nil }, fileExists: { _ in false }) == nil)
        options.adminKeyFile = "keys/admin"
        #expect(try options.resolveAdminKey(environment: ["PORTAL_ADMIN_KEY": "env"], readFile: read, fileExists: exists) == "from-file")
        options.adminKey = "flag"
        #expect(try options.resolveAdminKey(environment: ["PORTAL_ADMIN_KEY": "env"], readFile: read, fileExists: exists) == "flag")
        options.adminKey = nil
        options.adminKeyFile = "missing"
        #expect(throws: UsageFailure.self) {
            try options.resolveAdminKey(environment: [:], readFile: read, fileExists: exists)
        }
    }

    @Test("Server errors print 'error: <message> (<CODE> <REASON>)' and exit 1")
    func serverErrorLine() {
        let error = RPCError(code: .failedPrecondition, reason: "DAY_NOT_EMPTY", message: "2025-10-09 already has blocks.")
        let outcome = PortalCtl.outcome(of: error)
        #expect(outcome.status == 1)
        #expect(outcome.toStandardError)
        #expect(outcome.message == "error: 2025-10-09 already has blocks. (FAILED_PRECONDITION DAY_NOT_EMPTY)")
    }

    @Test("A refusal portalctl can explain adds a hint line, and still exits 1")
    func hintedRefusal() {
        let error = RPCError(code: .unauthenticated, reason: "INVALID_CREDENTIALS", message: "Invalid credentials.")
        let outcome = PortalCtl.outcome(of: HintedFailure(error, hint: "the admin key came from PORTAL_ADMIN_KEY"))
        #expect(outcome.status == 1)
        #expect(
            outcome.message
                == "error: Invalid credentials. (UNAUTHENTICATED INVALID_CREDENTIALS)\nhint: the admin key came from PORTAL_ADMIN_KEY")
    }

    @Test("The refused key's source is named, never the key")
    func adminKeySource() throws {
        let options = try GlobalOptions.parse([])
        let resolved = try options.resolveAdminKeyAndSource(
            environment: ["PORTAL_ADMIN_KEY": "stale"], readFile: { _ in "good" }, fileExists: { _ in true })
        #expect(resolved?.key == "stale")
        #expect(resolved?.source == "PORTAL_ADMIN_KEY")
    }

    @Test("A negative option value gets its own message, not 'missing value'")
    func negativeOptionValues() {
        let cases: [([String], String)] = [
            (["service", "set", "walk", "--duration", "60", "--price", "-5", "--currency", "gbp"], "--price must be 0 or more"),
            (["health", "--timeout", "-1"], "--timeout must be more than 0"),
            (["client", "list", "--page-size", "-1"], "--page-size must be 1-500"),
        ]
        for (arguments, expected) in cases {
            do {
                _ = try PortalCtl.parseAsRoot(arguments)
                Issue.record("accepted \(arguments)")
            } catch {
                let outcome = PortalCtl.outcome(of: error)
                #expect(outcome.status == 2, "\(arguments)")
                #expect(outcome.message.contains(expected), "\(arguments): \(outcome.message)")
            }
        }
    }

    // MARK: Rendering

    @Test("Table columns line up in a terminal when a cell holds emoji, CJK or accents")
    func wideCharacters() {
        #expect(TextTable.terminalWidth(of: "Zoë Brontë 🐕") == 13)
        #expect(TextTable.terminalWidth(of: "山田") == 4)
        #expect(TextTable.terminalWidth(of: "e\u{301}") == 1)
        var table = TextTable(header: ["Name", "Login"])
        table.rows = [["Zoë Brontë 🐕", "active"], ["山田 花子", "none"], ["Ada", "disabled"]]
        let lines = table.render().split(separator: "\n").map(String.init)
        // Every second column starts at the same terminal column.
        let columns = zip(lines, ["Login", "active", "none", "disabled"]).map { line, last in
            TextTable.terminalWidth(of: String(line.dropLast(last.count)))
        }
        #expect(Set(columns).count == 1, "\(lines)")
    }

    static let acceptanceDay: [BlockCapacities] = [
        BlockCapacities(
            block: TimetableBlock(blockId: 1, date: "2025-10-08", startTime: "09:00", endTime: "12:00", label: "Morning Run"),
            capacities: [ServiceCapacity(serviceCode: "walk", capacity: 5, booked: 1, held: 2, remaining: 2)]),
        BlockCapacities(
            block: TimetableBlock(blockId: 2, date: "2025-10-08", startTime: "13:00", endTime: "16:00", label: "Afternoon"),
            capacities: [
                ServiceCapacity(serviceCode: "daycare", capacity: 2, allowOverlap: true, remaining: 2),
                ServiceCapacity(serviceCode: "walk", capacity: 3, remaining: 3),
            ]),
    ]

    @Test("A day renders as blocks × services with capacity/booked/held/remaining")
    func dayTable() {
        let text = Rendering.day(date: "2025-10-08", blocks: Self.acceptanceDay)
        #expect(
            text == """
                2025-10-08  (cells: capacity/booked/held/remaining)
                Block                         daycare   walk
                09:00-12:00 Morning Run (#1)  -         5/1/2/2
                13:00-16:00 Afternoon (#2)    2/0/0/2*  3/0/0/3
                * one client may hold overlapping bookings of this service
                """)
    }

    @Test("The day's header names the business's time zone when the server sends it")
    func dayTableNamesTheZone() {
        let text = Rendering.day(date: "2025-10-08", timeZone: "Europe/London", blocks: Self.acceptanceDay)
        #expect(text.hasPrefix("2025-10-08 Europe/London time  (cells: capacity/booked/held/remaining)\n"))
    }

    @Test("An empty day says so")
    func emptyDay() {
        #expect(Rendering.day(date: "2025-10-10", blocks: []) == "No blocks on 2025-10-10.")
    }

    @Test("Bookings render with time, service, client, label, amount and payment state")
    func bookingsTable() {
        let bookings = [
            Booking(
                bookingId: 12, clientId: 3, serviceCode: "walk", blockId: 1, date: "2025-10-08",
                startTime: "09:00", endTime: "10:00", blockLabel: "Morning Run", amountCents: 1500,
                currency: "gbp", status: .confirmed, paymentState: .captured),
            Booking(
                bookingId: 13, clientId: 4, serviceCode: "daycare", blockId: 2, date: "2025-10-08",
                startTime: "13:00", endTime: "21:00", blockLabel: "Afternoon", amountCents: 4005,
                currency: "gbp", status: .confirmed, paymentState: .capturePending),
        ]
        #expect(
            Rendering.bookings(date: "2025-10-08", bookings) == """
                Booking  Time         Service  Client  Label        Amount     Payment
                #12      09:00-10:00  walk     #3      Morning Run  15.00 GBP  captured
                #13      13:00-21:00  daycare  #4      Afternoon    40.05 GBP  capture pending
                """)
        #expect(Rendering.bookings(date: "2025-10-08", []) == "No bookings on 2025-10-08.")
    }

    @Test("Money is written in major units, or whole units for zero-decimal currencies")
    func money() {
        #expect(Rendering.money(1500, currency: "gbp") == "15.00 GBP")
        #expect(Rendering.money(5, currency: "eur") == "0.05 EUR")
        #expect(Rendering.money(-250, currency: "usd") == "-2.50 USD")
        #expect(Rendering.money(500, currency: "jpy") == "500 JPY")
    }

    @Test("Services render as a table")
    func servicesTable() {
        let services = [
            ServiceDefaults(serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp"),
            ServiceDefaults(serviceCode: "daycare", durationMinutes: 480, priceCents: 4000, currency: "gbp", notes: "Bring lunch"),
        ]
        #expect(
            Rendering.services(services) == """
                Service  Duration  Price      Notes
                daycare  480 min   40.00 GBP  Bring lunch
                walk     60 min    15.00 GBP
                """)
    }
}
