import Foundation
import Histogram

/// Latencies in nanoseconds (HdrHistogram, 3 significant digits, up to 100 s).
struct LatencyRecorder {
    private(set) var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: 100_000_000_000,
        numberOfSignificantValueDigits: .three)

    mutating func record(nanoseconds: UInt64) {
        _ = histogram.record(max(1, min(nanoseconds, 100_000_000_000)))
    }

    mutating func merge(_ other: LatencyRecorder) {
        histogram.add(other.histogram)
    }

    var count: UInt64 { histogram.totalCount }

    /// The latency at `percentile` (0–100), in microseconds.
    func microseconds(at percentile: Double) -> Double {
        guard histogram.totalCount > 0 else { return 0 }
        return Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    var maxMicroseconds: Double { histogram.totalCount > 0 ? Double(histogram.max) / 1000 : 0 }
}

/// The CPU time and memory of a process, read from /proc (Linux only).
struct ProcessSample {
    /// User + system CPU time, in seconds.
    var cpuSeconds: Double
    /// Resident set size now, in bytes.
    var residentBytes: Int
    /// Peak resident set size, in bytes.
    var peakResidentBytes: Int
    /// When the sample was taken (monotonic nanoseconds).
    var takenAt: UInt64

    static func read(pid: Int32) -> ProcessSample? {
        guard
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14, stime 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            return nil
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kilobytes(_ key: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(key) {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if parts.count >= 2, let value = Int(parts[1]) { return value * 1024 }
            }
            return 0
        }
        return ProcessSample(
            cpuSeconds: (user + system) / ticks, residentBytes: kilobytes("VmRSS:"),
            peakResidentBytes: kilobytes("VmHWM:"), takenAt: monotonicNanoseconds())
    }

    /// CPU use between two samples, in percent of one core.
    static func cpuPercent(from start: ProcessSample, to end: ProcessSample) -> Double {
        let wall = Double(end.takenAt &- start.takenAt) / 1e9
        guard wall > 0 else { return 0 }
        return (end.cpuSeconds - start.cpuSeconds) / wall * 100
    }
}

/// The outcome of one run, as printed.
struct RunReport {
    var scenario: String
    var mode: String
    var connections: Int
    var inFlight: Int
    var seconds: Double
    var tally: LoadTally
    var serverBefore: ProcessSample?
    var serverAfter: ProcessSample?
    var generatorCPUPercent: Double

    var requestsPerSecond: Double { Double(tally.responses) / seconds }
    var operationsPerSecond: Double { Double(tally.operations) / seconds }
    var errorCount: UInt64 { tally.codes.dropFirst().reduce(0, +) }

    static let codeNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED", "OTHER",
    ]

    func printHuman() {
        let latencies = tally.latencies
        print("scenario \(scenario) (\(mode)), \(connections) connection(s) x \(inFlight) in flight, \(format(seconds, 1)) s measured")
        print("  throughput   \(format(requestsPerSecond, 0)) req/s  (\(tally.responses) answers)")
        if tally.operations != tally.responses {
            print("  operations   \(format(operationsPerSecond, 0)) /s  (\(tally.operations) completed)")
        }
        print("  latency      p50 \(format(latencies.microseconds(at: 50), 0)) us, p99 \(format(latencies.microseconds(at: 99), 0)) us, p99.9 \(format(latencies.microseconds(at: 99.9), 0)) us, max \(format(latencies.maxMicroseconds, 0)) us")
        for (name, step) in zip(LoadTally.stepNames, tally.stepLatencies) {
            guard let step, step.count > 0 else { continue }
            print("    \(name): \(step.count) answers, p50 \(format(step.microseconds(at: 50), 0)) us, p99 \(format(step.microseconds(at: 99), 0)) us")
        }
        var errors: [String] = []
        for (code, count) in tally.codes.enumerated() where code != 0 && count > 0 {
            errors.append("\(Self.codeNames[code]) \(count)")
        }
        if !tally.reasons.isEmpty {
            let reasons = tally.reasons.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
            errors.append("by reason: \(reasons.joined(separator: ", "))")
        }
        if tally.protocolErrors > 0 { errors.append("unmatched frames \(tally.protocolErrors)") }
        if tally.closedConnections > 0 { errors.append("connections closed by the server \(tally.closedConnections)") }
        print("  errors       \(errors.isEmpty ? "none" : errors.joined(separator: ", "))")
        if let before = serverBefore, let after = serverAfter {
            let cpuMicroseconds = (after.cpuSeconds - before.cpuSeconds) * 1e6 / Double(max(1, tally.responses))
            print("  server       RSS \(mebibytes(after.residentBytes)) MiB (peak \(mebibytes(after.peakResidentBytes)) MiB), CPU \(format(ProcessSample.cpuPercent(from: before, to: after), 0)) %, \(format(cpuMicroseconds, 2)) us CPU per answer")
        }
        print("  generator    CPU \(format(generatorCPUPercent, 0)) %")
    }

    /// One line for scripts: `RESULT key=value …`.
    func printMachineLine() {
        let latencies = tally.latencies
        var fields = [
            "scenario=\(scenario)", "mode=\(mode)", "c=\(connections)", "k=\(inFlight)",
            "rps=\(format(requestsPerSecond, 0))", "ops=\(format(operationsPerSecond, 0))",
            "p10_us=\(format(latencies.microseconds(at: 10), 0))",
            "p50_us=\(format(latencies.microseconds(at: 50), 0))",
            "p90_us=\(format(latencies.microseconds(at: 90), 0))",
            "p99_us=\(format(latencies.microseconds(at: 99), 0))",
            "p999_us=\(format(latencies.microseconds(at: 99.9), 0))",
            "errors=\(errorCount + tally.protocolErrors)",
            "gen_cpu=\(format(generatorCPUPercent, 0))",
        ]
        for (name, step) in zip(LoadTally.stepNames, tally.stepLatencies) {
            guard let step, step.count > 0 else { continue }
            fields.append("\(name)_p50_us=\(format(step.microseconds(at: 50), 0))")
            fields.append("\(name)_p99_us=\(format(step.microseconds(at: 99), 0))")
        }
        if let before = serverBefore, let after = serverAfter {
            fields.append("rss_mib=\(mebibytes(after.residentBytes))")
            fields.append("server_cpu=\(format(ProcessSample.cpuPercent(from: before, to: after), 0))")
            // Server CPU time per answer: what the machine's other load disturbs least.
            let cpuMicroseconds = (after.cpuSeconds - before.cpuSeconds) * 1e6 / Double(max(1, tally.responses))
            fields.append("server_cpu_us=\(format(cpuMicroseconds, 2))")
        }
        print("RESULT " + fields.joined(separator: " "))
    }
}

func format(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}

func mebibytes(_ bytes: Int) -> String {
    String(format: "%.1f", Double(bytes) / 1_048_576)
}

/// CPU seconds this process has used so far.
func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user: Double = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system: Double = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}
