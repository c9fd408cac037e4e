import CSQLite
import PortalDomain

/// A failure reported by SQLite itself.
///
/// It is for the server's log only: the wire layer sends anything that is
/// not a ``PortalError`` as a generic internal error. Its `description`
/// names the result code and what the store was doing, never the SQL text or
/// bound values (which may hold tokens).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended SQLite result code, e.g. 2067 (SQLITE_CONSTRAINT_UNIQUE).
    public let code: Int32
    /// SQLite's own message (`sqlite3_errmsg`); may name tables or columns.
    public let message: String
    /// What the store was doing ("prepare", "step", "open", …).
    public let operation: String

    /// Creates an error.
    package init(code: Int32, message: String, operation: String) {
        self.code = code
        self.message = message
        self.operation = operation
    }

    /// The primary result code (the low byte of ``code``).
    public var primaryCode: Int32 { code & 0xFF }

    /// Whether the database was locked by another connection past the busy timeout.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    /// Whether a constraint (UNIQUE, FOREIGN KEY, CHECK, …) refused the write.
    public var isConstraintViolation: Bool { primaryCode == SQLITE_CONSTRAINT }

    /// `SQLite <operation> failed: <code> (<message>)`.
    public var description: String { "SQLite \(operation) failed: \(code) (\(message))" }
}

extension PortalError {
    /// How a SQLite failure surfaces to callers: a busy database is
    /// `unavailable` (retry later); anything else stays a ``SQLiteError``,
    /// which the wire layer reports as a generic internal error.
    static func surfacing(_ error: any Error) -> any Error {
        if let sqlite = error as? SQLiteError, sqlite.isBusy {
            return PortalError(
                .unavailable, .storeBusy, "The database is busy; try again shortly.")
        }
        return error
    }
}
