import Foundation
import Logging
import NIOCore
import PortalCheckout
import PortalServer

/// Everything `portald` is configured with, resolved from flags, then
/// environment variables, then defaults.
///
/// The database, time-zone, hold, admin-key and Stripe settings are carried
/// for the capabilities that use them; the server uses ``server``.
struct PortaldConfiguration: Sendable {
    /// Where the server listens.
    var host: String
    /// The TCP port (0: any free port).
    var port: Int
    /// The SQLite database file.
    var databasePath: String
    /// The business's IANA time zone.
    var timeZone: String
    /// How long a checkout hold lasts, in minutes.
    var holdMinutes: Int
    /// Admin API keys given by flag or environment; empty when none was given
    /// (see ``AdminKeyFile``).
    var adminKeys: [String]
    /// The Stripe secret key, if any.
    var stripeAPIKey: String?
    /// The base URL of Stripe's API (a local Stripe-compatible server in tests).
    var stripeAPIBase: String
    /// Which payment provider checkout uses.
    var payments: PaymentsMode
    /// Seconds past a hold's shown expiry before the sweeper settles its payment.
    var holdGraceSeconds: Int
    /// Test-only faults from `PORTAL_FAULT_INJECTION` (see `CheckoutFaults`).
    var faults: CheckoutFaults
    /// The server's address, limits and timeouts.
    var server: ServerConfiguration
    /// The log level.
    var logLevel: Logger.Level
}

/// Which payment provider checkout uses (`--payments`).
///
/// The default is `stripe` when a Stripe key is configured and `disabled`
/// otherwise; `simulated` is used only when asked for explicitly.
enum PaymentsMode: String, Sendable, CaseIterable {
    /// Stripe's API (or a Stripe-compatible server at `--stripe-api-base`).
    case stripe
    /// The in-process ``SimulatedPaymentGateway``: approves everything, moves
    /// no money; for demos and benchmarks. Logs loudly.
    case simulated
    /// No provider: the checkout methods answer `PAYMENTS_NOT_CONFIGURED`.
    case disabled
}

/// A configuration value that cannot be used.
struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
}

extension PortaldConfiguration {
    /// Creates the folder of the database at `databasePath` when missing;
    /// returns its path.
    @discardableResult
    static func createDatabaseFolder(for databasePath: String) throws -> String {
        let folder = URL(fileURLWithPath: databasePath).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError(description: "cannot create the database's folder '\(folder)' (--db / PORTAL_DB)")
        }
        return folder
    }
    /// Parses `host:port` (`[::1]:7420` for IPv6).
    static func parseListenAddress(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ConfigurationError(description: "listen address '\(text)' must be HOST:PORT")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigurationError(description: "listen address '\(text)' has an invalid port")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else {
            throw ConfigurationError(description: "listen address '\(text)' has no host")
        }
        return (host, port)
    }

    /// Splits a comma-separated key list, dropping blanks.
    static func parseKeys(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
