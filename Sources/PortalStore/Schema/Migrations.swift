import Logging
import PortalDomain

/// One step of the schema's history.
package struct Migration: Sendable {
    /// The `PRAGMA user_version` the database has after this step.
    package let version: Int
    /// A short name for the log.
    package let name: String
    /// The SQL script of the step.
    package let sql: String
}

/// The versioned migrations, applied in order by ``PortalStore/open(configuration:calendar:clock:logger:)``.
///
/// The database's `PRAGMA user_version` records the last step applied. Each
/// step runs in its own `BEGIN IMMEDIATE` transaction together with the
/// version bump, so a crash leaves the database at a whole version. Steps
/// are append-only: a released step is never edited, a change is a new step.
package enum Migrations {
    /// Every step, oldest first.
    package static let all: [Migration] = [
        Migration(version: 1, name: "timetable, capacity, holds, bookings, clients, logins, audit, outbox", sql: schemaV1),
        Migration(version: 3, name: "checkout: client secrets and end reasons of holds", sql: schemaV3),
        Migration(
            version: 4, name: "booked counters, spans of at most a day, indexes for the overlap check",
            sql: schemaV4),
        Migration(version: 5, name: "partial indexes over live holds and pending outbox rows", sql: schemaV5),
        Migration(version: 6, name: "no separate index of unsettled holds", sql: schemaV6),
        Migration(version: 7, name: "audit log without AUTOINCREMENT or a JSON check", sql: schemaV7),
        Migration(version: 8, name: "no separate index of a client's bookings by date", sql: schemaV8),
        Migration(version: 9, name: "spans of at most a day as CHECK constraints, not triggers", sql: schemaV9),
        Migration(version: 10, name: "a day's bookings through its blocks, no index of every booking by date", sql: schemaV10),
        Migration(version: 11, name: "no index of the audit log by entity", sql: schemaV11),
        Migration(version: 12, name: "a new booking's booked count raised by its insert, not a trigger", sql: schemaV12),
        Migration(version: 13, name: "the database's own id, for its PaymentIntents' metadata", sql: schemaV13),
    ]

    /// The version a fully migrated database has.
    package static var latestVersion: Int { all.last?.version ?? 0 }

    /// Brings the database on `connection` up to ``latestVersion``.
    ///
    /// - Throws: ``PortalError`` `failedPrecondition` / `SCHEMA_TOO_NEW` when
    ///   the file was written by a newer Portal (never downgrade silently).
    package static func migrate(_ connection: SQLiteConnection, logger: Logger) throws {
        let current = Int(try connection.integer("PRAGMA user_version") ?? 0)
        guard current <= latestVersion else {
            throw PortalError.failedPrecondition(
                .schemaTooNew,
                "The database was written by a newer version of Portal (schema \(current), this build knows \(latestVersion)).")
        }
        for migration in all where migration.version > current {
            try connection.immediateTransaction {
                try connection.execute(script: migration.sql)
                // PRAGMA takes no parameters; the version is our own constant.
                try connection.execute(script: "PRAGMA user_version = \(migration.version)")
            }
            logger.info(
                "applied schema migration",
                metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        }
    }
}
