import ArgumentParser
import Foundation
import PortalClient
import PortalMessages
import PortalWire

import struct PortalDomain.LocalDate
import struct PortalDomain.TimeOfDay

/// `portalctl`: the staff command-line tool of a Portal server — the
/// capacity editor, service defaults and a day's bookings.
@main
struct PortalCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portalctl",
        abstract: "Staff tool for a Portal server: timetable, capacities, services, bookings, clients.",
        discussion: """
            Every command takes --server HOST:PORT (env PORTAL_SERVER, default 127.0.0.1:7420). \
            Admin commands need the admin API key: --admin-key, --admin-key-file, env PORTAL_ADMIN_KEY, \
            or the file var/admin.key. Exit status: 0 success, 1 the server refused or could not be \
            reached, 2 a usage error.
            """,
        subcommands: [
            HealthCommand.self, DayCommand.self, BlockCommand.self, CapacityCommand.self,
            ServiceCommand.self, BookingsCommand.self, ClientCommand.self, MetricsCommand.self,
            DemoCommand.self,
        ]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let (status, message, toStandardError) = outcome(of: error)
            if !message.isEmpty {
                if toStandardError {
                    FileHandle.standardError.write(Data((message + "\n").utf8))
                } else {
                    print(message)
                }
            }
            Foundation.exit(status)
        }
    }

    /// The exit status and message for an error: 1 for an `RPCError` (the
    /// server's refusal, or the server could not be reached), 2 for usage
    /// errors, ArgumentParser's own status otherwise (0 for --help).
    static func outcome(of error: any Error) -> (status: Int32, message: String, toStandardError: Bool) {
        switch error {
        case let error as RPCError:
            return (1, errorLine(for: error), true)
        case let failure as HintedFailure:
            return (1, errorLine(for: failure.error) + "\nhint: " + failure.hint, true)
        case let error as UsageFailure:
            return (2, "error: \(error.description)", true)
        default:
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success { return (0, message, false) }
            return (code == .validationFailure ? 2 : code.rawValue, message, true)
        }
    }

    /// `error: <message> (<CODE> <REASON>)`.
    static func errorLine(for error: RPCError) -> String {
        "error: \(error.message) (\(error.code.name) \(error.reason.rawValue))"
    }
}

// MARK: - health

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Ask whether the server is serving (needs no admin key).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let status = try await global.withClient(needsAdminKey: false) { client, _ in
            try await client.call(
                HealthMethods.check, HealthCheckRequest(service: ""), credentials: .anonymous
            ).status
        }
        switch status {
        case .serving:
            print("SERVING")
        case .notServing:
            print("NOT_SERVING")
            throw ExitCode(1)
        case .unknown, .unrecognized:
            print("UNKNOWN")
            throw ExitCode(1)
        }
    }
}

// MARK: - day

struct DayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "day", abstract: "Show or copy a day's timetable.",
        subcommands: [DayShowCommand.self, DayCopyCommand.self])
}

struct DayShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a day as a table: blocks × services, capacity/booked/held/remaining.")

    @Argument(help: "The date, YYYY-MM-DD.", transform: LocalDate.parse)
    var date: LocalDate

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let day = try await global.withClient { client, _ in
            try await client.call(AdminMethods.getDay, GetDayRequest(date: date.description))
        }
        print(
            Rendering.day(
                date: day.date.isEmpty ? date.description : day.date, timeZone: day.timeZone, blocks: day.blocks))
    }
}

struct DayCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a day's blocks and capacities onto another date (by default, copy yesterday).")

    @Option(help: "The date to copy onto, YYYY-MM-DD.", transform: LocalDate.parse)
    var to: LocalDate

    @Option(help: "The date to copy from, YYYY-MM-DD (default: the day before --to).", transform: LocalDate.parse)
    var from: LocalDate?

    @Flag(help: "Replace the blocks already on --to (refused if one has bookings or holds).")
    var replace = false

    @OptionGroup var global: GlobalOptions

    /// The source day: --from, or the day before --to.
    var sourceDate: LocalDate { from ?? to.previousDay }

    func validate() throws {
        guard sourceDate != to else { throw ValidationError("--from and --to must be different dates") }
    }

    func run() async throws {
        let request = CopyDayRequest(fromDate: sourceDate.description, toDate: to.description, replace: replace)
        let copied = try await global.withClient { client, _ in
            do {
                return try await client.call(AdminMethods.copyDay, request)
            } catch let error as RPCError where error.reason.rawValue == "DAY_NOT_EMPTY" {
                throw HintedFailure(error, hint: "add --replace to replace \(to)'s blocks (refused while any has bookings or holds)")
            }
        }
        var summary = "Copied \(copied.blocks.count) block\(copied.blocks.count == 1 ? "" : "s") from \(sourceDate) to \(to)"
        if copied.replacedBlocks > 0 { summary += ", replacing \(copied.replacedBlocks)" }
        print(summary + ".")
        if !copied.blocks.isEmpty { print(Rendering.day(date: to.description, blocks: copied.blocks)) }
    }
}

// MARK: - block

struct BlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block", abstract: "Add, edit or delete timetable blocks.",
        subcommands: [BlockAddCommand.self, BlockEditCommand.self, BlockDeleteCommand.self])
}

struct BlockAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a block to a date.")

    @Argument(help: "The date, YYYY-MM-DD.", transform: LocalDate.parse) var date: LocalDate
    @Argument(help: "Start time, HH:MM.", transform: TimeOfDay.parse) var start: String
    @Argument(help: "End time, HH:MM (after the start).", transform: TimeOfDay.parse) var end: String
    @Argument(help: "The label, e.g. \"Morning Run\".") var label: String
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard end > start else { throw ValidationError("the end time must be after the start time") }
        guard !label.isEmpty else { throw ValidationError("the label must not be empty") }
    }

    func run() async throws {
        let request = CreateBlockRequest(date: date.description, startTime: start, endTime: end, label: label)
        let created = try await global.withClient { client, _ in
            try await client.call(AdminMethods.createBlock, request)
        }
        print("Created block " + Rendering.block(created.block ?? TimetableBlock()))
    }
}

struct BlockEditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit", abstract: "Change a block's times or label.")

    @Argument(help: "The block id.") var id: Int64
    @Option(help: "New start time, HH:MM.", transform: TimeOfDay.parse) var start: String?
    @Option(help: "New end time, HH:MM.", transform: TimeOfDay.parse) var end: String?
    @Option(help: "New label.") var label: String?
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("the block id must be positive") }
        guard start != nil || end != nil || label != nil else {
            throw ValidationError("nothing to change: give --start, --end or --label")
        }
        if let start, let end, end <= start {
            throw ValidationError("the end time must be after the start time")
        }
        if let label, label.isEmpty { throw ValidationError("the label must not be empty") }
    }

    func run() async throws {
        let request = UpdateBlockRequest(blockId: id, startTime: start, endTime: end, label: label)
        let updated = try await global.withClient { client, _ in
            try await client.call(AdminMethods.updateBlock, request)
        }
        print("Updated block " + Rendering.block(updated.block ?? TimetableBlock()))
    }
}

struct BlockDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a block (refused while it has bookings or holds).")

    @Argument(help: "The block id.") var id: Int64
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("the block id must be positive") }
    }

    func run() async throws {
        _ = try await global.withClient { client, _ in
            try await client.call(AdminMethods.deleteBlock, DeleteBlockRequest(blockId: id))
        }
        print("Deleted block #\(id).")
    }
}

// MARK: - capacity

struct CapacityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity", abstract: "Set or remove a service's capacity in a block.",
        subcommands: [CapacitySetCommand.self, CapacityRemoveCommand.self])
}

struct CapacitySetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Set how many bookings of a service a block takes.")

    @Argument(help: "The block id.") var blockId: Int64
    @Argument(help: "The service code, e.g. walk.") var service: String
    @Argument(help: "The capacity, 0-10000.") var capacity: Int32
    @Flag(
        help: """
            Let one client hold overlapping bookings of this service. Every `capacity set` sets this too: \
            without the flag, overlapping bookings are not allowed (the answer says which).
            """)
    var allowOverlap = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard blockId > 0 else { throw ValidationError("the block id must be positive") }
        guard capacity >= 0 else { throw ValidationError("the capacity must be 0 or more") }
    }

    func run() async throws {
        let request = SetCapacityRequest(
            blockId: blockId, serviceCode: service, capacity: capacity, allowOverlap: allowOverlap)
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.setCapacity, request)
        }
        print("Block #\(blockId) " + Rendering.capacity(answer.capacity ?? ServiceCapacity()))
    }
}

struct CapacityRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Stop offering a service in a block.")

    @Argument(help: "The block id.") var blockId: Int64
    @Argument(help: "The service code.") var service: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        _ = try await global.withClient { client, _ in
            try await client.call(
                AdminMethods.removeCapacity, RemoveCapacityRequest(blockId: blockId, serviceCode: service))
        }
        print("Block #\(blockId) no longer offers \(service).")
    }
}

// MARK: - service

struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service", abstract: "List or set service defaults.",
        subcommands: [ServiceListCommand.self, ServiceSetCommand.self])
}

struct ServiceListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the services.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.listServices, ListServicesRequest())
        }
        print(Rendering.services(answer.services))
    }
}

struct ServiceSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Create or replace a service's defaults.")

    @Argument(help: "The service code, e.g. walk.") var code: String
    @Option(parsing: .unconditional, help: "Minutes one booking lasts (1-1440).") var duration: Int32
    @Option(parsing: .unconditional, help: "Price of one booking in minor units, 0-99999999, e.g. 1500 for £15.00.")
    var price: Int64
    @Option(help: "ISO 4217 currency code, e.g. gbp (any case; sent lower-case, as the server requires).") var currency: String
    @Option(help: "Notes for staff.") var notes: String = ""
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...1440).contains(duration) else { throw ValidationError("--duration must be 1-1440 minutes") }
        guard price >= 0 else { throw ValidationError("--price must be 0 or more") }
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw ValidationError("--currency must be a three-letter ISO 4217 code, e.g. gbp")
        }
    }

    func run() async throws {
        let service = ServiceDefaults(
            serviceCode: code, durationMinutes: duration, priceCents: price,
            currency: currency.lowercased(), notes: notes)
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.upsertService, UpsertServiceRequest(service: service))
        }
        print((answer.created ? "Created" : "Updated") + " service:")
        print(Rendering.services([answer.service ?? service]))
    }
}

// MARK: - bookings

struct BookingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookings", abstract: "List a day's bookings.")

    @Argument(help: "The date, YYYY-MM-DD.", transform: LocalDate.parse) var date: LocalDate
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.listBookings, ListBookingsRequest(date: date.description))
        }
        print(Rendering.bookings(date: date.description, answer.bookings))
    }
}

struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Show the server's calls per method: count, errors and latency.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.getMetrics, GetMetricsRequest())
        }
        print(Rendering.metrics(answer))
    }
}
