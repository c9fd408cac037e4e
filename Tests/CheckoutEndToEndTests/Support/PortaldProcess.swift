import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The real `portald` binary, run as a child process on 127.0.0.1 and a port
/// the kernel picks (read back from its "Listening" log line).
final class PortaldProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let logURL: URL

    private init(process: Process, port: Int, logURL: URL) {
        self.process = process
        self.port = port
        self.logURL = logURL
    }

    /// The built `portald` next to the test bundle.
    static func executable() throws -> URL {
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("portald"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("portald"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("portald is not built next to the tests (looked in \(candidates.map(\.path)))")
        }
        return found
    }

    /// Starts `portald` with `arguments` (plus `--listen 127.0.0.1:0`) and
    /// waits until it listens. Its log goes to `logURL`.
    static func start(arguments: [String], environment extra: [String: String] = [:], logURL: URL) throws
        -> PortaldProcess
    {
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["--listen", "127.0.0.1:0"] + arguments
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("PORTAL_") { environment[key] = nil }
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: logURL)
        process.standardError = try FileHandle(forWritingTo: logURL)
        try process.run()

        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").first(where: { $0.contains("Listening") }),
                let port = Self.port(in: String(line))
            {
                return PortaldProcess(process: process, port: port, logURL: logURL)
            }
            if !process.isRunning {
                throw PortaldFailure(description: "portald exited (\(process.terminationStatus)) before listening:\n\(log)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw PortaldFailure(description: "portald did not listen within 60 s")
    }

    /// The port of `address=[IPv4]127.0.0.1/127.0.0.1:40567` in a log line.
    static func port(in line: String) -> Int? {
        guard let range = line.range(of: "address=") else { return nil }
        let token = line[range.upperBound...].prefix(while: { $0 != " " })
        guard let colon = token.lastIndex(of: ":") else { return nil }
        return Int(token[token.index(after: colon)...])
    }

    /// Waits (real time) for the process to exit on its own.
    func waitForExit(timeout: Duration = .seconds(30)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        return !process.isRunning
    }

    /// SIGTERM, then waits for the graceful drain to end.
    func terminate() -> Bool {
        guard process.isRunning else { return true }
        process.terminate()
        return waitForExit()
    }

    /// SIGKILL, for clean-up after a failed test.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
}

struct PortaldFailure: Error, CustomStringConvertible {
    let description: String
}
