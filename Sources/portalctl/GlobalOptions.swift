import ArgumentParser
import Foundation
import PortalClient
import PortalWire

/// The options every command takes: where the server is, the admin key, the
/// call timeout.
struct GlobalOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The server as HOST:PORT (env PORTAL_SERVER; default 127.0.0.1:7420).",
            valueName: "host:port"))
    var server: String?

    @Option(
        help: ArgumentHelp(
            "The admin API key (env PORTAL_ADMIN_KEY). Prefer the environment or --admin-key-file: a flag is visible to other users in the process list.",
            valueName: "key"))
    var adminKey: String?

    @Option(
        help: ArgumentHelp(
            "A file holding the admin API key (default var/admin.key when it exists).",
            valueName: "path"))
    var adminKeyFile: String?

    // `.unconditional`: a negative value reaches validate() and its message,
    // instead of being read as an unknown option.
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Seconds to wait for each answer, more than 0 and at most 3600.", valueName: "seconds"))
    var timeout: Double = 10

    static let defaultServer = "127.0.0.1:7420"
    static let defaultAdminKeyFile = "var/admin.key"

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else {
            throw ValidationError("--timeout must be more than 0 and at most 3600 seconds")
        }
    }

    /// The server's host and port: the flag, else PORTAL_SERVER, else the default.
    func serverAddress(environment: [String: String]) throws -> (host: String, port: Int) {
        let text = server ?? environment["PORTAL_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultServer
        return try Self.parseAddress(text)
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`.
    static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
        let invalid = UsageFailure("invalid server address '\(text)': expected HOST:PORT, e.g. 127.0.0.1:7420")
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { throw invalid }
        return (host, port)
    }

    /// The admin key: --admin-key, else --admin-key-file, else PORTAL_ADMIN_KEY,
    /// else var/admin.key when it exists; `nil` when there is none. The key is
    /// never printed.
    func resolveAdminKey(
        environment: [String: String],
        readFile: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) },
        fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) throws -> String? {
        try resolveAdminKeyAndSource(environment: environment, readFile: readFile, fileExists: fileExists)?.key
    }

    /// The admin key and where it came from (for messages; never the key).
    func resolveAdminKeyAndSource(
        environment: [String: String],
        readFile: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) },
        fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) throws -> (key: String, source: String)? {
        if let adminKey { return try Self.nonEmpty(adminKey, source: "--admin-key") }
        if let adminKeyFile {
            guard let contents = readFile(adminKeyFile) else {
                throw UsageFailure("cannot read the admin key file '\(adminKeyFile)'")
            }
            return try Self.nonEmpty(contents, source: "the admin key file '\(adminKeyFile)'")
        }
        if let key = environment["PORTAL_ADMIN_KEY"], !key.isEmpty {
            return try Self.nonEmpty(key, source: "PORTAL_ADMIN_KEY")
        }
        if fileExists(Self.defaultAdminKeyFile), let contents = readFile(Self.defaultAdminKeyFile) {
            return try Self.nonEmpty(contents, source: "the admin key file '\(Self.defaultAdminKeyFile)'")
        }
        return nil
    }

    private static func nonEmpty(_ key: String, source: String) throws -> (key: String, source: String) {
        let trimmed = key.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw UsageFailure("the admin key from \(source) is empty") }
        return (trimmed, source)
    }

    /// Runs `body` with a client for the server (holding the admin key when
    /// `needsAdminKey`), and closes the client afterwards.
    func withClient<Result>(
        needsAdminKey: Bool = true,
        _ body: (PortalClient, Duration) async throws -> Result
    ) async throws -> Result {
        let environment = ProcessInfo.processInfo.environment
        let (host, port) = try serverAddress(environment: environment)
        var configuration = PortalClient.Configuration.defaults
        var keySource: String?
        if needsAdminKey {
            guard let (key, source) = try resolveAdminKeyAndSource(environment: environment) else {
                throw UsageFailure(
                    "no admin key: pass --admin-key or --admin-key-file, set PORTAL_ADMIN_KEY, or write it to \(Self.defaultAdminKeyFile)")
            }
            configuration.authorization = .bearer(key)
            keySource = source
        }
        let callTimeout = Duration.milliseconds(Int64((timeout * 1000).rounded(.up)))
        configuration.defaultTimeout = callTimeout
        let client = PortalClient(host: host, port: port, configuration: configuration)
        do {
            let result = try await body(client, callTimeout)
            await client.close()
            return result
        } catch let error as RPCError where error.code == .unauthenticated && keySource != nil {
            await client.shutdown()
            // Which of the four places the refused key came from: an old
            // PORTAL_ADMIN_KEY wins over a good var/admin.key.
            throw HintedFailure(
                error,
                hint: "the admin key came from \(keySource ?? ""); it must be one of the server's "
                    + "(portald --admin-key, PORTAL_ADMIN_KEYS, or the admin.key next to its database)")
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

/// The server's refusal with what portalctl knows of its likely cause
/// (printed as a `hint:` line); exit status 1, like any refusal.
struct HintedFailure: Error {
    var error: RPCError
    var hint: String
    init(_ error: RPCError, hint: String) {
        self.error = error
        self.hint = hint
    }
}

/// A mistake in how portalctl was called that ArgumentParser cannot see
/// (unreadable key file, bad server address): exit status 2.
struct UsageFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
