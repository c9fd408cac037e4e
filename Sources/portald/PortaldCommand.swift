import ArgumentParser
import Foundation
import Logging
import NIOCore
import PortalCheckout
import struct PortalDomain.BusinessCalendar
import PortalServer
import ServiceLifecycle

/// `portald`: the Portal booking service.
@main
struct PortaldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portald",
        abstract: "The Portal booking service: binary RPC over TCP (length-prefixed protobuf frames).",
        discussion: """
            Every option can also be given by the environment variable named in its help; \
            a flag wins over the environment, which wins over the default. \
            SIGTERM or SIGINT drains gracefully: a go-away frame to every client, running \
            requests finish within the grace period, then the process exits.
            """)

    @Option(help: "Address to listen on, HOST:PORT. Env: PORTAL_LISTEN. Default: 127.0.0.1:7420.")
    var listen: String?

    @Option(help: "SQLite database file; its folder is created. Env: PORTAL_DB. Default: var/portal.sqlite.")
    var db: String?

    @Option(help: "IANA time zone of the business. Env: PORTAL_TIME_ZONE. Default: Europe/London.")
    var timeZone: String?

    @Option(help: "Minutes a checkout hold lasts. Env: PORTAL_HOLD_MINUTES. Default: 10.")
    var holdMinutes: Int?

    @Option(
        help: """
            Admin API key; repeat for several. Env: PORTAL_ADMIN_KEYS (comma-separated). \
            Default: a random key generated once into admin.key next to the database (mode 0600).
            """)
    var adminKey: [String] = []

    @Option(help: "Stripe secret API key. Env: PORTAL_STRIPE_API_KEY. Default: none.")
    var stripeAPIKey: String?

    @Option(help: "Base URL of Stripe's API. Env: PORTAL_STRIPE_API_BASE. Default: https://api.stripe.com.")
    var stripeAPIBase: String?

    @Option(
        help: """
            Payment provider for checkout: stripe or simulated. Env: PORTAL_PAYMENTS. Default: stripe when a \
            Stripe key is configured, otherwise none (the checkout methods then answer PAYMENTS_NOT_CONFIGURED). \
            simulated approves every payment and moves no money: demos and benchmarks only, never the default.
            """)
    var payments: String?

    @Option(
        help: """
            Seconds past a hold's shown expiry before the sweeper settles its payment (books it if paid, \
            else cancels it); a hold found paid in the sweeper's last round before its expiry is booked \
            then. Env: PORTAL_HOLD_GRACE_SECONDS. Default: 60.
            """)
    var holdGraceSeconds: Int?

    @Option(help: "Largest frame accepted, in bytes. Env: PORTAL_MAX_FRAME_BYTES. Default: 4194304 (4 MiB).")
    var maxFrameBytes: Int?

    @Option(help: "Connections served at once. Env: PORTAL_MAX_CONNECTIONS. Default: 2048.")
    var maxConnections: Int?

    @Option(help: "Requests in flight per connection. Env: PORTAL_MAX_IN_FLIGHT. Default: 1024.")
    var maxInFlight: Int?

    @Option(help: "Calls running at once in the whole server; later ones wait in arrival order. Env: PORTAL_MAX_RUNNING_CALLS. Default: 512.")
    var maxRunningCalls: Int?

    @Option(help: "Seconds before an idle connection is closed. Env: PORTAL_IDLE_TIMEOUT_SECONDS. Default: 300.")
    var idleTimeoutSeconds: Int?

    @Option(help: "Seconds one frame may take to arrive whole. Env: PORTAL_FRAME_TIMEOUT_SECONDS. Default: 10.")
    var frameTimeoutSeconds: Int?

    @Option(help: "Seconds running requests get to finish on shutdown. Env: PORTAL_DRAIN_GRACE_SECONDS. Default: 10.")
    var drainGraceSeconds: Int?

    @Option(help: "trace, debug, info, notice, warning, error or critical. Env: PORTAL_LOG_LEVEL. Default: info.")
    var logLevel: String?

    /// Unblocks the shutdown signals before anything else runs, then parses
    /// and runs as ArgumentParser's own `main` does.
    static func main() async {
        SignalMask.unblockShutdownSignals()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    func run() async throws {
        let configuration = try resolve(environment: ProcessInfo.processInfo.environment)
        let logLevel = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "portald")
        MemoryTuning.log(to: logger)
        let adminKeys = try AdminKeyFile.resolve(configured: configuration.adminKeys, databasePath: configuration.databasePath, logger: logger)
        let assembly = try await PortalServerAssembly.makeServices(
            configuration: configuration, adminKeys: adminKeys, logger: logger)
        let group = ServiceGroup(
            services: assembly.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EACCES {
            await assembly.store.close()
            let why = error.errnoCode == EADDRINUSE ? "the address is already in use" : "permission denied"
            throw ConfigurationError(
                description: "cannot listen on \(configuration.host):\(configuration.port): \(why) (--listen / PORTAL_LISTEN)")
        } catch {
            await assembly.store.close()
            throw error
        }
        await assembly.store.close()
    }

    /// `name` when the business calendar takes it (an IANA time zone this
    /// machine knows) — the store opens its calendar with the same rule.
    private func knownTimeZone(_ name: String) throws -> String {
        guard (try? BusinessCalendar(timeZoneIdentifier: name)) != nil else {
            throw ConfigurationError(
                description: "time zone '\(name)' (--time-zone / PORTAL_TIME_ZONE) is not an IANA name such as Europe/London")
        }
        return name
    }

    /// The configuration from these flags, `environment` and the defaults.
    func resolve(environment: [String: String]) throws -> PortaldConfiguration {
        func value(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        /// `--hold-minutes` for `PORTAL_HOLD_MINUTES`: every variable is its flag's name.
        func flagName(_ variable: String) -> String {
            "--" + variable.dropFirst("PORTAL_".count).lowercased().replacingOccurrences(of: "_", with: "-")
        }
        func integer(_ flag: Int?, _ variable: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
            let result: Int
            if let flag {
                result = flag
            } else if let text = value(nil, variable) {
                guard let parsed = Int(text) else {
                    throw ConfigurationError(description: "\(variable)='\(text)' is not a whole number")
                }
                result = parsed
            } else {
                result = fallback
            }
            guard range.contains(result) else {
                let source = flag != nil ? flagName(variable) : variable
                throw ConfigurationError(
                    description: "\(source) must be \(range.lowerBound)-\(range.upperBound), not \(result)")
            }
            return result
        }

        let (host, port) = try PortaldConfiguration.parseListenAddress(value(listen, "PORTAL_LISTEN") ?? "127.0.0.1:7420")
        let levelText = value(logLevel, "PORTAL_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigurationError(description: "log level '\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        var server = ServerConfiguration.defaults
        server.host = host
        server.port = port
        server.limits.maximumFrameLength = try integer(
            maxFrameBytes, "PORTAL_MAX_FRAME_BYTES", default: server.limits.maximumFrameLength, range: 64...Int(UInt32.max))
        server.limits.maxConnections = try integer(
            maxConnections, "PORTAL_MAX_CONNECTIONS", default: server.limits.maxConnections, range: 1...1_000_000)
        server.limits.maxInFlightPerConnection = try integer(
            maxInFlight, "PORTAL_MAX_IN_FLIGHT", default: server.limits.maxInFlightPerConnection, range: 1...1_000_000)
        server.limits.maxRunningCalls = try integer(
            maxRunningCalls, "PORTAL_MAX_RUNNING_CALLS", default: server.limits.maxRunningCalls, range: 1...1_000_000)
        server.timeouts.idleTimeout = .seconds(Int64(try integer(
            idleTimeoutSeconds, "PORTAL_IDLE_TIMEOUT_SECONDS", default: 300, range: 1...86_400)))
        server.timeouts.frameTimeout = .seconds(Int64(try integer(
            frameTimeoutSeconds, "PORTAL_FRAME_TIMEOUT_SECONDS", default: 10, range: 1...3_600)))
        server.timeouts.drainGracePeriod = .seconds(Int64(try integer(
            drainGraceSeconds, "PORTAL_DRAIN_GRACE_SECONDS", default: 10, range: 0...3_600)))

        let stripeKey = value(stripeAPIKey, "PORTAL_STRIPE_API_KEY")
        let paymentsMode: PaymentsMode
        switch value(payments, "PORTAL_PAYMENTS")?.lowercased() {
        case nil:
            paymentsMode = stripeKey == nil ? .disabled : .stripe
        case "stripe":
            guard stripeKey != nil else {
                throw ConfigurationError(description: "--payments stripe needs a Stripe key (--stripe-api-key or PORTAL_STRIPE_API_KEY)")
            }
            paymentsMode = .stripe
        case "simulated":
            paymentsMode = .simulated
        case let other?:
            throw ConfigurationError(description: "payments '\(other)' is not one of stripe, simulated")
        }

        return PortaldConfiguration(
            host: host,
            port: port,
            databasePath: value(db, "PORTAL_DB") ?? "var/portal.sqlite",
            timeZone: try knownTimeZone(value(timeZone, "PORTAL_TIME_ZONE") ?? "Europe/London"),
            holdMinutes: try integer(holdMinutes, "PORTAL_HOLD_MINUTES", default: 10, range: 1...1_440),
            adminKeys: adminKey.isEmpty
                ? PortaldConfiguration.parseKeys(environment["PORTAL_ADMIN_KEYS"] ?? "") : adminKey,
            stripeAPIKey: stripeKey,
            stripeAPIBase: value(stripeAPIBase, "PORTAL_STRIPE_API_BASE") ?? "https://api.stripe.com",
            payments: paymentsMode,
            holdGraceSeconds: try integer(
                holdGraceSeconds, "PORTAL_HOLD_GRACE_SECONDS", default: 60, range: 0...86_400),
            faults: try CheckoutFaults.from(environment: environment),
            server: server,
            logLevel: level)
    }
}
