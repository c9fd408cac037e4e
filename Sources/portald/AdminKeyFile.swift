import Foundation
import Logging

#if canImport(Glibc)
import Glibc
private let posixWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let posixWrite = Darwin.write
#endif

/// The admin API keys in force: those configured, or else one kept in
/// `admin.key` next to the database, generated on first start.
enum AdminKeyFile {
    /// The keys to accept. Creates the database's folder; when no key is
    /// configured, reads `admin.key` beside the database or writes a new
    /// random key there with mode 0600. Logs only the file's path, never a key.
    static func resolve(configured: [String], databasePath: String, logger: Logger) throws -> [String] {
        let folder = try PortaldConfiguration.createDatabaseFolder(for: databasePath)
        if !configured.isEmpty { return configured }

        let path = URL(fileURLWithPath: folder).appendingPathComponent("admin.key").path
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let keys = PortaldConfiguration.parseKeys(existing)
            if !keys.isEmpty {
                logger.notice("Using the admin API key from the key file", metadata: ["path": "\(path)"])
                return keys
            }
        }
        let key = generateKey()
        do {
            try writeNewFile(key + "\n", at: path)
        } catch {
            throw ConfigurationError(
                description: "cannot write a new admin key file '\(path)': give --admin-key or PORTAL_ADMIN_KEYS, or a writable --db folder")
        }
        logger.notice("Generated an admin API key", metadata: ["path": "\(path)"])
        return [key]
    }

    /// 256 random bits, hex-encoded.
    static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return String(byte, radix: 16).leftPadded(to: 2)
        }.joined()
    }

    /// Creates `path` with mode 0600 from the start (never readable by others).
    private static func writeNewFile(_ text: String, at path: String) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw ConfigurationError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { posixWrite(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw ConfigurationError(description: "cannot write \(path)")
        }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
