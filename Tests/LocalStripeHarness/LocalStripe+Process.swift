import Foundation
#if canImport(XCTest)
import XCTest
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Why a ``LocalStripe`` could not be started.
public enum LocalStripeError: Error, CustomStringConvertible {
    /// No `localstripe` executable was found; the paths that were tried.
    case notInstalled(searched: [String])
    /// It was found but did not come up; the end of its error output.
    case failedToStart(String)

    public var description: String {
        switch self {
        case .notInstalled(let searched):
            "localstripe is not installed (looked for \(searched.joined(separator: ", "))); "
                + "run scripts/bootstrap.sh to create .venv/ with it"
        case .failedToStart(let why):
            "localstripe did not start: \(why)"
        }
    }
}

extension LocalStripe {
    /// How long ``start(executable:startupTimeout:)`` waits for the server to answer.
    public static let defaultStartupTimeout: Duration = .seconds(30)

    /// Where `localstripe` is: `$PORTAL_LOCALSTRIPE` if set, else
    /// `<package root>/.venv/bin/localstripe` (made by scripts/bootstrap.sh),
    /// else `localstripe` on `PATH`.
    public static func locateExecutable() throws -> String {
        var searched: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["PORTAL_LOCALSTRIPE"], !explicit.isEmpty {
            if FileManager.default.isExecutableFile(atPath: explicit) { return explicit }
            searched.append(explicit)
        }
        let venv = packageRoot.appendingPathComponent(".venv/bin/localstripe").path
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        searched.append(venv)
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/localstripe"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        searched.append("localstripe on PATH")
        throw LocalStripeError.notInstalled(searched: searched)
    }

    /// The package's root: this file is `<root>/Tests/LocalStripeHarness/LocalStripe+Process.swift`.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Starts a new server and waits until it accepts connections. The
    /// caller owns it: ``stop()`` it (or let it go: `deinit` stops it).
    ///
    /// The server runs in a fresh temporary directory with `--from-scratch`
    /// semantics (an empty store), listens on 127.0.0.1 only, on a port the
    /// kernel picks, keeps its store file in that directory, and exits by
    /// itself if the test process dies.
    public static func start(
        executable: String? = nil,
        startupTimeout: Duration = defaultStartupTimeout
    ) throws -> LocalStripe {
        let executable = try executable ?? locateExecutable()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("localstripe-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let stdoutURL = directory.appendingPathComponent("stdout.log")
        let stderrURL = directory.appendingPathComponent("stderr.log")
        guard FileManager.default.createFile(atPath: stdoutURL.path, contents: nil),
              FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        else { throw LocalStripeError.failedToStart("could not create log files in \(directory.path)") }

        let process = Process()
        let launch = launchCommand(for: executable)
        process.executableURL = URL(fileURLWithPath: launch.executable)
        process.arguments = launch.arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = directory.path
        environment["PYTHONUNBUFFERED"] = "1"
        environment["LOCALSTRIPE_PARENT_PID"] = String(getpid())
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        // Files, not pipes: a pipe nobody drains would block the server once full.
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw LocalStripeError.failedToStart("could not run \(executable): \(error)")
        }

        let deadline = ContinuousClock.now + startupTimeout
        var port = launch.fixedPort
        func giveUp(_ why: String) -> LocalStripeError {
            let log = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            stopProcess(process)
            try? FileManager.default.removeItem(at: directory)
            return .failedToStart(why + (log.isEmpty ? "" : "; its stderr ends with:\n" + String(log.suffix(2000))))
        }
        while true {
            guard process.isRunning else { throw giveUp("it exited with status \(process.terminationStatus)") }
            if port == nil, let output = try? String(contentsOf: stdoutURL, encoding: .utf8),
               let line = output.split(separator: "\n").first(where: { $0.hasPrefix(portLinePrefix) })
            {
                port = Int(line.dropFirst(portLinePrefix.count))
            }
            if let port, canConnect(port: port) { break }
            guard ContinuousClock.now < deadline else { throw giveUp("it did not accept connections within \(startupTimeout)") }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return LocalStripe(process: process, port: port!, workingDirectory: directory)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 3 s) and removes its
    /// directory. Safe to call more than once.
    public func stop() {
        guard let process = takeProcess() else { return }
        Self.stopProcess(process)
        try? FileManager.default.removeItem(at: workingDirectory)
    }

    /// Whether the server process is still running.
    public var isRunning: Bool {
        withProcess { $0?.isRunning ?? false }
    }

    // MARK: One per test process

    /// One server for the whole test process, started on first use and
    /// stopped when the process exits. Tests share it and call ``reset()``
    /// before each test. Throws ``LocalStripeError/notInstalled(searched:)``
    /// when there is no localstripe.
    public static func shared() throws -> LocalStripe {
        try sharedInstance.withLock { state in
            if let running = state.instance, running.isRunning { return running }
            state.instance?.stop()
            let started = try start()
            state.instance = started
            if !state.registeredExit {
                state.registeredExit = true
                atexit { stopSharedAtExit() }
            }
            return started
        }
    }

    #if canImport(XCTest)
    /// ``shared()``, or an `XCTSkip` saying why when localstripe is not
    /// installed. Any other failure to start is thrown as it is: a test that
    /// needs localstripe and has it must not be skipped silently.
    public static func sharedOrSkip() throws -> LocalStripe {
        do {
            return try shared()
        } catch let error as LocalStripeError {
            if case .notInstalled = error { throw XCTSkip("\(error)") }
            throw error
        }
    }
    #endif

    // MARK: Internals

    fileprivate static func stopProcess(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()  // SIGTERM: aiohttp shuts down cleanly
        let deadline = ContinuousClock.now + .seconds(3)
        while process.isRunning, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    private func takeProcess() -> Process? {
        lock.lock()
        defer { lock.unlock() }
        let taken = process
        process = nil
        return taken
    }

    private func withProcess<T>(_ body: (Process?) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(process)
    }

    private static let portLinePrefix = "LOCALSTRIPE_PORT="

    /// How to run `executable`. A pip-installed `localstripe` is a Python
    /// script; its Python interpreter (from the `#!` line) runs ``bootstrapScript``
    /// instead, which serves localstripe's own app with three changes for
    /// tests. Anything else runs as `localstripe --port <free> --from-scratch`,
    /// which shares `/tmp/localstripe.pickle` with other instances, binds every
    /// interface and, spawned from a Dispatch thread, ignores SIGTERM (its
    /// inherited signal mask blocks it), so ``stop()`` needs the SIGKILL after 3 s.
    private static func launchCommand(for executable: String) -> (executable: String, arguments: [String], fixedPort: Int?) {
        if let handle = FileHandle(forReadingAtPath: executable) {
            defer { try? handle.close() }
            let head = (try? handle.read(upToCount: 512)) ?? Data()
            let firstLine = String(decoding: head.prefix(while: { $0 != 0x0A }), as: UTF8.self)
            if firstLine.hasPrefix("#!") {
                let words = firstLine.dropFirst(2).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                // `#!/path/python3` or `#!/usr/bin/env python3`; a shell wrapper takes the plain route.
                if let interpreter = words.first, words.contains(where: { $0.split(separator: "/").last?.hasPrefix("python") == true }) {
                    return (interpreter, Array(words.dropFirst()) + ["-c", bootstrapScript], nil)
                }
            }
        }
        let port = freePort()
        return (executable, ["--port", String(port), "--from-scratch"], port)
    }

    /// Runs localstripe's app as `localstripe --from-scratch` would, except:
    /// the store file lives in the working directory rather than the fixed
    /// `/tmp/localstripe.pickle`; it listens on 127.0.0.1 only (localstripe
    /// itself binds every interface) on a port the kernel picks, printed on
    /// stdout; it exits when the process that started it (`LOCALSTRIPE_PARENT_PID`)
    /// is gone, even if that one was killed; and it unblocks every signal first,
    /// because a child spawned from a Dispatch worker thread inherits that
    /// thread's mask, in which SIGTERM is blocked.
    static let bootstrapScript = """
        import os, pickle, shutil, signal, socket, threading, time
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        import localstripe.resources as resources
        import localstripe.server as server
        from aiohttp import web

        store_path = os.path.join(os.getcwd(), 'localstripe.pickle')
        def dump_to_disk(self):
            with open(store_path, 'wb') as f:
                pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        resources.Store.dump_to_disk = dump_to_disk

        watched = int(os.environ.get('LOCALSTRIPE_PARENT_PID', '0'))
        def exit_with_parent():
            while watched > 0:
                time.sleep(0.5)
                try:
                    os.kill(watched, 0)
                except ProcessLookupError:
                    shutil.rmtree(os.getcwd(), ignore_errors=True)
                    os._exit(0)
        threading.Thread(target=exit_with_parent, daemon=True).start()

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(('127.0.0.1', 0))
        print('\(portLinePrefix)%d' % sock.getsockname()[1], flush=True)
        web.run_app(server.app, sock=sock, print=None, access_log=None)
        """

    /// A port that was free a moment ago (only for the fallback launch).
    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 8420 }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : 8420
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    private static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}

/// The process-wide instance behind ``LocalStripe/shared()``.
private struct SharedState: Sendable {
    var instance: LocalStripe?
    var registeredExit = false
}

private let sharedInstance = LockedValue(SharedState())

private func stopSharedAtExit() {
    sharedInstance.withLock { state in
        state.instance?.stop()
        state.instance = nil
    }
}

/// A value guarded by a lock.
private final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
