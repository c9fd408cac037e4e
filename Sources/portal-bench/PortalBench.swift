import ArgumentParser
import Foundation
import PortalClient
import PortalMessages
import PortalWire

/// `portal-bench`: a closed-loop load generator for a Portal server.
@main
struct PortalBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portal-bench",
        abstract: "Closed-loop load generator for portald: throughput, latency percentiles, server RSS and CPU.",
        discussion: """
            Opens C connections with K requests in flight on each; every answer sends that \
            slot's next request at once. After the warm-up, it measures for the duration and \
            prints requests per second, p50/p99/p99.9 latency, errors by status code and, with \
            --server-pid, the server's RSS and CPU from /proc.

            --mode raw (the default) sends frames encoded before the run from one thread over \
            raw non-blocking sockets, reading only each answer's id and status code, so that the \
            generator is not what is measured (the checkout scenarios encode each request, since \
            FinalizeCheckout carries what StartCheckout answered). --mode client drives the same load through \
            PortalClient (typed calls, async/await) instead.

            list-blocks seeds a day of 10 blocks x 3 services through the admin API (reused when \
            present), creates clients with portal logins, logs them in, and takes some holds and \
            bookings where the server offers checkout. Only loopback addresses are accepted.
            """)

    @Argument(help: "health, list-blocks, start-checkout, checkout, mixed or idle.")
    var scenario: String = "health"

    @Option(help: "Server host; must be a loopback address.")
    var host: String = "127.0.0.1"

    @Option(help: "Server port.")
    var port: Int = 7420

    @Option(name: [.short, .customLong("connections")], help: "Connections (C).")
    var connections: Int = 4

    @Option(name: [.customShort("k"), .customLong("in-flight")], help: "Requests in flight per connection (K).")
    var inFlight: Int = 64

    @Option(help: "Seconds measured.")
    var duration: Double = 10

    @Option(help: "Seconds of load before measuring.")
    var warmup: Double = 2

    @Option(help: "raw (pre-encoded frames, raw sockets) or client (PortalClient).")
    var mode: String = "raw"

    @Option(help: "Generator threads in raw mode (connections are spread over them).")
    var threads: Int = 1

    @Option(help: "timeout_ms sent with every request (PortalClient sends its 30 s default); 0 = none.")
    var timeoutMs: UInt32 = 30_000

    @Option(help: "The server's process id, to report its RSS and CPU from /proc.")
    var serverPid: Int32?

    @Option(help: "Admin API key for seeding. Env: PORTAL_ADMIN_KEY.")
    var adminKey: String?

    @Option(help: "File holding the admin API key (portald's admin.key).")
    var adminKeyFile: String?

    @Option(help: "The day the fixture seeds, YYYY-MM-DD.")
    var date: String = "2030-06-03"

    @Option(help: "Bench clients with portal logins (sessions are spread over slots).")
    var clients: Int = 4

    @Option(help: "Bookings seeded into the day (needs checkout on the server).")
    var bookings: Int = 12

    @Option(help: "Live holds seeded into the day (needs checkout on the server).")
    var holds: Int = 12

    @Flag(help: "Also print one machine-readable RESULT line.")
    var machineReadable = false

    func validate() throws {
        guard Scenario(rawValue: scenario) != nil else {
            throw ValidationError("unknown scenario \(scenario); one of \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ["127.0.0.1", "localhost", "::1"].contains(host) || host.hasPrefix("127.") else {
            throw ValidationError("portal-bench only sends traffic to loopback addresses (127.0.0.0/8, ::1)")
        }
        guard connections >= 1, inFlight >= 1, duration > 0, warmup >= 0, threads >= 1 else {
            throw ValidationError("connections, in-flight, duration and threads must be positive")
        }
        guard mode == "raw" || mode == "client" else { throw ValidationError("mode is raw or client") }
    }

    func run() async throws {
        raiseOpenFileLimit()
        let scenario = Scenario(rawValue: self.scenario)!
        if scenario == .idle {
            try await runIdle()
            return
        }
        var fixture: BenchFixture?
        if scenario.needsFixture {
            let key = try resolveAdminKey()
            // Checkout slots each need their own (client, block, service): 30 per client.
            let needed = scenario == .listBlocks ? clients : max(clients, (connections * inFlight + 29) / 30)
            let seeded = try await BenchSeeder.seed(
                host: host, port: port, adminKey: key, date: date, clients: needed,
                bookings: bookings, holds: holds)
            print("fixture: \(seeded.date), \(seeded.blockIDs.count) blocks x \(seeded.services.count) services, \(seeded.sessionTokens.count) sessions, \(seeded.bookings) bookings, \(seeded.holds) live holds")
            fixture = seeded
        }
        let report: RunReport
        switch mode {
        case "client":
            report = try await runClientMode(scenario: scenario, fixture: fixture)
        default:
            report = try await runRawMode(scenario: scenario, fixture: fixture)
        }
        report.printHuman()
        if machineReadable { report.printMachineLine() }
        if report.tally.responses == 0 {
            // Not a figure: no answer at all means the tool or the server is broken.
            throw BenchError("no answer arrived in the measured window")
        }
    }

    private func resolveAdminKey() throws -> String {
        if let adminKey { return adminKey }
        if let adminKeyFile {
            let text = try String(contentsOfFile: adminKeyFile, encoding: .utf8)
            if let key = text.split(whereSeparator: \.isNewline).first { return String(key) }
        }
        if let key = ProcessInfo.processInfo.environment["PORTAL_ADMIN_KEY"], !key.isEmpty { return key }
        throw ValidationError("this scenario seeds data: give --admin-key, --admin-key-file or PORTAL_ADMIN_KEY")
    }

    // MARK: Raw mode

    private func runRawMode(scenario: Scenario, fixture: BenchFixture?) async throws -> RunReport {
        let frames = RequestFrames(timeoutMilliseconds: timeoutMs)
        var all: [RawConnection] = []
        for index in 0..<connections {
            let fd = try connectLoopback(host: host, port: port)
            let slots = try rawSlots(
                scenario: scenario, connection: index, connections: connections, inFlight: inFlight,
                frames: frames, fixture: fixture)
            all.append(RawConnection(fd: fd, slots: slots))
        }
        let threadCount = min(threads, connections)
        let engines = (0..<threadCount).map { thread in
            RawLoadEngine(connections: all.enumerated().filter { $0.offset % threadCount == thread }.map(\.element))
        }
        let start = monotonicNanoseconds()
        let measureStart = start + UInt64(warmup * 1e9)
        let measureEnd = measureStart + UInt64(duration * 1e9)
        let sampler = ServerSampler(pid: serverPid)
        let tallies = try await withThrowingTaskGroup(of: LoadTally.self) { group in
            for engine in engines {
                let box = UncheckedBox(engine)
                group.addTask {
                    await onOwnThread {
                        box.value.run(measureStart: measureStart, measureEnd: measureEnd, drainGrace: 2_000_000_000)
                    }
                }
            }
            group.addTask {
                await sampler.sample(at: measureStart, and: measureEnd)
                return LoadTally()
            }
            var merged = LoadTally()
            for try await tally in group { merged.merge(tally) }
            return merged
        }
        return RunReport(
            scenario: scenario.rawValue, mode: "raw", connections: connections, inFlight: inFlight,
            seconds: duration, tally: tallies, serverBefore: sampler.before, serverAfter: sampler.after,
            generatorCPUPercent: sampler.generatorCPUPercent)
    }

    // MARK: Client mode

    private func runClientMode(scenario: Scenario, fixture: BenchFixture?) async throws -> RunReport {
        var configuration = PortalClient.Configuration.defaults
        configuration.defaultTimeout = timeoutMs == 0 ? nil : .milliseconds(Int64(timeoutMs))
        configuration.retryPolicy = .none
        let clients = (0..<connections).map { _ in
            PortalClient(host: host, port: port, configuration: configuration)
        }
        let start = monotonicNanoseconds()
        let measureStart = start + UInt64(warmup * 1e9)
        let measureEnd = measureStart + UInt64(duration * 1e9)
        let sampler = ServerSampler(pid: serverPid)
        let tally = try await withThrowingTaskGroup(of: LoadTally.self) { group in
            for (connection, client) in clients.enumerated() {
                for slot in 0..<inFlight {
                    let variant = connection * inFlight + slot
                    group.addTask {
                        try await Self.clientLoop(
                            client: client, scenario: scenario, fixture: fixture, variant: variant,
                            measureStart: measureStart, measureEnd: measureEnd)
                    }
                }
            }
            group.addTask {
                await sampler.sample(at: measureStart, and: measureEnd)
                return LoadTally()
            }
            var merged = LoadTally()
            for try await tally in group { merged.merge(tally) }
            return merged
        }
        for client in clients { await client.close() }
        return RunReport(
            scenario: scenario.rawValue, mode: "client", connections: connections, inFlight: inFlight,
            seconds: duration, tally: tally, serverBefore: sampler.before, serverAfter: sampler.after,
            generatorCPUPercent: sampler.generatorCPUPercent)
    }

    private static func clientLoop(
        client: PortalClient, scenario: Scenario, fixture: BenchFixture?, variant: Int,
        measureStart: UInt64, measureEnd: UInt64
    ) async throws -> LoadTally {
        var tally = LoadTally()
        while true {
            let sentAt = monotonicNanoseconds()
            if sentAt >= measureEnd { break }
            var code: Int32 = 0
            do {
                switch scenario {
                case .health:
                    _ = try await client.call(HealthMethods.check, HealthCheckRequest())
                case .listBlocks:
                    let fixture = fixture!
                    _ = try await client.call(
                        PortalMethods.listBlocks,
                        ListBlocksRequest(
                            date: fixture.date, serviceCode: fixture.services[variant % fixture.services.count]),
                        credentials: .bearer(fixture.sessionTokens[variant % fixture.sessionTokens.count]))
                default:
                    throw BenchError("scenario \(scenario.rawValue) is not available in client mode yet")
                }
            } catch let error as RPCError {
                code = error.code.rawValue
            }
            let now = monotonicNanoseconds()
            if now >= measureStart && now < measureEnd {
                tally.responses += 1
                tally.operations += 1
                tally.codes[code >= 0 && code <= 16 ? Int(code) : 17] += 1
                tally.latencies.record(nanoseconds: now - sentAt)
            }
        }
        return tally
    }

    // MARK: Idle connections

    private func runIdle() async throws {
        guard let serverPid else { throw ValidationError("idle needs --server-pid") }
        guard let before = ProcessSample.read(pid: serverPid) else {
            throw BenchError("cannot read /proc/\(serverPid)")
        }
        let frames = RequestFrames(timeoutMilliseconds: 0)
        var descriptors: [Int32] = []
        for index in 0..<connections {
            let fd = try connectLoopback(host: host, port: port)
            descriptors.append(fd)
            // One health check each, so that every connection is fully set up.
            let frame = frames.health(id: UInt64(index + 1))
            _ = frame.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        try await Task.sleep(for: .seconds(max(2, duration)))
        guard let after = ProcessSample.read(pid: serverPid) else {
            throw BenchError("cannot read /proc/\(serverPid)")
        }
        for fd in descriptors { close(fd) }
        let added = after.residentBytes - before.residentBytes
        print("scenario idle, \(connections) idle connection(s)")
        print("  server RSS   \(mebibytes(before.residentBytes)) MiB before, \(mebibytes(after.residentBytes)) MiB with the connections open: +\(mebibytes(added)) MiB (\(added / max(1, connections)) bytes each)")
        if machineReadable {
            print("RESULT scenario=idle c=\(connections) rss_before_mib=\(mebibytes(before.residentBytes)) rss_after_mib=\(mebibytes(after.residentBytes)) added_mib=\(mebibytes(added))")
        }
    }
}

/// Samples the server (and this process's CPU) at the start and the end of
/// the measured window.
final class ServerSampler: @unchecked Sendable {
    let pid: Int32?
    private(set) var before: ProcessSample?
    private(set) var after: ProcessSample?
    private(set) var generatorCPUPercent: Double = 0

    init(pid: Int32?) { self.pid = pid }

    func sample(at start: UInt64, and end: UInt64) async {
        await sleep(until: start)
        let ownStart = ownCPUSeconds()
        let wallStart = monotonicNanoseconds()
        if let pid { before = ProcessSample.read(pid: pid) }
        await sleep(until: end)
        if let pid { after = ProcessSample.read(pid: pid) }
        let wall = Double(monotonicNanoseconds() - wallStart) / 1e9
        generatorCPUPercent = wall > 0 ? (ownCPUSeconds() - ownStart) / wall * 100 : 0
    }

    private func sleep(until deadline: UInt64) async {
        let now = monotonicNanoseconds()
        if deadline > now { try? await Task.sleep(nanoseconds: deadline - now) }
    }
}

/// Moves a value that is only ever used by one thread at a time across an
/// isolation boundary.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Runs blocking work on a thread of its own, so it never occupies the
/// concurrency pool.
func onOwnThread<T>(_ body: @escaping () -> T) async -> T {
    let work = UncheckedBox(body)
    return await withCheckedContinuation { continuation in
        let thread = Thread {
            let result = UncheckedBox(work.value())
            continuation.resume(returning: result.value)
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
