import CSQLite

/// A value bound to a statement parameter.
package enum SQLiteValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A 64-bit integer (also used for booleans: 0 or 1).
    case integer(Int64)
    /// UTF-8 text.
    case text(String)

    /// An integer from a Swift `Int`.
    package static func int(_ value: Int) -> SQLiteValue { .integer(Int64(value)) }
    /// A boolean as 0 or 1.
    package static func bool(_ value: Bool) -> SQLiteValue { .integer(value ? 1 : 0) }
    /// Text, or NULL for `nil`.
    package static func optionalText(_ value: String?) -> SQLiteValue {
        value.map { .text($0) } ?? .null
    }
}

/// One result row, valid only inside the closure it is passed to.
package struct SQLiteRow {
    fileprivate let statement: OpaquePointer

    /// Whether column `index` is NULL.
    package func isNull(_ index: Int32) -> Bool {
        sqlite3_column_type(statement, index) == SQLITE_NULL
    }

    /// Column `index` as a 64-bit integer (0 for NULL).
    package func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }

    /// Column `index` as an `Int` (0 for NULL).
    package func int(_ index: Int32) -> Int { Int(sqlite3_column_int64(statement, index)) }

    /// Column `index` as a boolean (non-zero is true).
    package func bool(_ index: Int32) -> Bool { sqlite3_column_int64(statement, index) != 0 }

    /// Column `index` as text ("" for NULL).
    package func text(_ index: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement, index) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Column `index` as text, or `nil` for NULL.
    package func optionalText(_ index: Int32) -> String? {
        isNull(index) ? nil : text(index)
    }

    /// Column `index` as an integer, or `nil` for NULL.
    package func optionalInt64(_ index: Int32) -> Int64? {
        isNull(index) ? nil : int64(index)
    }

    /// The number of columns in the row.
    package var columnCount: Int32 { sqlite3_column_count(statement) }

    /// Column `index` as a generic value (REAL and BLOB columns as text);
    /// for tests that compare whole tables.
    package func value(_ index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(int64(index))
        default: return .text(text(index))
        }
    }
}

/// A thin wrapper over one `sqlite3*` connection.
///
/// Why our own wrapper rather than GRDB: the store needs exactly three things
/// from SQLite — prepared statements that are compiled once and reused
/// (`SQLITE_PREPARE_PERSISTENT`, kept in ``statementCache``), write
/// transactions opened with an explicit `BEGIN IMMEDIATE` so that every
/// capacity re-count happens under the database's write lock, and control
/// over which thread runs each call. This file is all of it, with no
/// second concurrency model (GRDB brings its own queues and pools) to reason
/// about when proving the capacity invariant.
///
/// Not thread-safe: a connection is used by one thread at a time. The store
/// guarantees that (one serial queue for the writer, a check-out pool for
/// readers), hence `@unchecked Sendable`.
package final class SQLiteConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// Prepared statements by SQL text. Only static SQL from this module is
    /// ever prepared, so the cache is bounded by the number of queries.
    private var statementCache: [StatementKey: OpaquePointer] = [:]
    /// Frames in the write-ahead log after this connection's last commit,
    /// once ``trackWALFrames()`` was called (written by SQLite's WAL hook).
    private var walFrames: UnsafeMutablePointer<Int32>?

    /// Opens (creating if needed) the database file at `path`.
    ///
    /// The connection is opened in SQLite's multi-thread mode
    /// (`SQLITE_OPEN_NOMUTEX`): the store never shares one between threads.
    package init(path: String, busyTimeoutMilliseconds: Int32) throws {
        _ = Self.libraryConfigured
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message, operation: "open")
        }
        self.handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit { close() }

    /// Process-wide settings, applied once before the first connection
    /// opens (SQLite refuses them later): memory statistics off, so that
    /// SQLite's allocations take no process-wide lock (perf: the writer
    /// and the readers contended on it under checkout load).
    private static let libraryConfigured: Void = {
        _ = csqlite_disable_memory_statistics()
    }()

    /// Whether SQLite keeps memory statistics in this process (it should
    /// not, once a connection was opened here first).
    package static var keepsMemoryStatistics: Bool {
        var current: Int64 = 0
        var highwater: Int64 = 0
        _ = sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &current, &highwater, 0)
        return current != 0 || highwater != 0
    }

    /// Finalizes every cached statement and closes the connection. Idempotent.
    package func close() {
        for statement in statementCache.values { sqlite3_finalize(statement) }
        statementCache.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
        walFrames?.deallocate()
        walFrames = nil
    }

    /// The path of the main database file (`nil` for an in-memory or
    /// temporary database).
    package var databasePath: String? {
        guard let handle, let main = sqlite3_db_filename(handle, "main"), main.pointee != 0 else {
            return nil
        }
        return String(cString: main)
    }

    /// The path of the database's write-ahead log (`…-wal`), whether or
    /// not it exists yet.
    package var walPath: String? {
        guard let handle, let main = sqlite3_db_filename(handle, "main"), main.pointee != 0 else {
            return nil
        }
        return sqlite3_filename_wal(main).map { String(cString: $0) }
    }

    /// Replaces SQLite's automatic checkpoints on this connection (which
    /// would run on its thread, inside the commit that crosses the limit)
    /// with a count: ``walFramesAfterLastCommit`` then says how many frames
    /// the write-ahead log holds, and the caller checkpoints elsewhere.
    package func trackWALFrames() throws {
        let db = try open()
        if walFrames == nil {
            walFrames = .allocate(capacity: 1)
            walFrames?.initialize(to: 0)
        }
        _ = csqlite_track_wal_frames(db, walFrames)
    }

    /// Runs a passive checkpoint (copies what no reader still needs from
    /// the write-ahead log into the database, never waiting for anyone).
    /// Returns the frames in the log and how many of them are now copied.
    package func passiveCheckpoint() throws -> (logFrames: Int, copiedFrames: Int) {
        let db = try open()
        var log: Int32 = 0
        var copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
        guard rc == SQLITE_OK else { throw error(rc, "checkpoint") }
        return (Int(log), Int(copied))
    }

    /// Runs a truncating checkpoint: copies the whole write-ahead log into
    /// the database and cuts the log file to zero bytes. It waits (up to the
    /// busy timeout) for the writer and for readers of older snapshots, and
    /// blocks writers while it runs. Returns whether it completed
    /// (`false`: someone was still busy; nothing is lost, the log stays).
    package func truncatingCheckpoint() throws -> Bool {
        let db = try open()
        let rc = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
        if rc == SQLITE_BUSY { return false }
        guard rc == SQLITE_OK else { throw error(rc, "checkpoint") }
        return true
    }

    /// Frames in the write-ahead log after this connection's last commit
    /// (0 until one commits, or without ``trackWALFrames()``).
    package var walFramesAfterLastCommit: Int {
        walFrames.map { Int($0.pointee) } ?? 0
    }

    /// Runs one or more SQL statements without parameters (pragmas,
    /// migrations). Not cached.
    package func execute(script sql: String) throws {
        let db = try open()
        writeStatements += 1
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(errorMessage)
            throw SQLiteError(code: sqlite3_extended_errcode(db), message: message, operation: "exec")
        }
    }

    /// Runs a statement to completion, ignoring any rows.
    package func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws {
        try withStatement(sql, bindings) { statement in
            while try step(statement) {}
        }
    }

    /// All rows of a query, decoded by `decode`.
    package func rows<T>(
        _ sql: String, _ bindings: [SQLiteValue] = [], _ decode: (SQLiteRow) throws -> T
    ) throws -> [T] {
        try withStatement(sql, bindings) { statement in
            var result: [T] = []
            while try step(statement) {
                result.append(try decode(SQLiteRow(statement: statement)))
            }
            return result
        }
    }

    /// The first row of a query, or `nil` when it has none.
    package func row<T>(
        _ sql: String, _ bindings: [SQLiteValue] = [], _ decode: (SQLiteRow) throws -> T
    ) throws -> T? {
        try withStatement(sql, bindings) { statement in
            try step(statement) ? try decode(SQLiteRow(statement: statement)) : nil
        }
    }

    /// The first column of the first row as an integer, or `nil`.
    package func integer(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> Int64? {
        try row(sql, bindings) { $0.optionalInt64(0) } ?? nil
    }

    /// The rowid of the last successful INSERT on this connection.
    package var lastInsertRowID: Int64 {
        handle.map { sqlite3_last_insert_rowid($0) } ?? 0
    }

    /// Rows changed by every INSERT, UPDATE or DELETE on this connection so
    /// far (rolled back ones included): when it has not moved, a transaction
    /// changed nothing.
    package var totalChanges: Int64 {
        handle.map { sqlite3_total_changes64($0) } ?? 0
    }

    /// Statements run on this connection that may have written: every
    /// step of a statement that is not read-only, and every script
    /// (``execute(script:)``), whether or not it changed a row or
    /// succeeded. When it has not moved, nothing was written.
    package private(set) var writeStatements = 0

    /// Whether a transaction is open on this connection.
    package var isInTransaction: Bool {
        handle.map { sqlite3_get_autocommit($0) == 0 } ?? false
    }

    /// Rolls back the open transaction, if any.
    package func rollbackIfInTransaction() {
        rollbackIfNeeded()
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    package var changes: Int {
        handle.map { Int(sqlite3_changes($0)) } ?? 0
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`.
    ///
    /// `BEGIN IMMEDIATE` takes the database's write lock before the first
    /// read, so whatever `body` counts cannot change before it commits — no
    /// other connection (in this process or another) can write in between,
    /// and the transaction never fails half-way with a lock upgrade error.
    /// Any error, or `shouldAbort()` turning true before the commit (the
    /// caller's deadline passed or its task was cancelled), rolls everything
    /// back.
    package func immediateTransaction<T>(
        shouldAbort: () -> Bool = { false }, _ body: () throws -> T
    ) throws -> T {
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            if shouldAbort() { throw CancellationError() }
            try run("COMMIT")
            return result
        } catch {
            rollbackIfNeeded()
            throw error
        }
    }

    /// Runs `body` inside a deferred (read) transaction, so that several
    /// queries see one consistent snapshot of the database.
    package func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try run("BEGIN DEFERRED")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            rollbackIfNeeded()
            throw error
        }
    }

    // MARK: Internals

    private func open() throws -> OpaquePointer {
        guard let handle else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "connection is closed", operation: "use")
        }
        return handle
    }

    private func rollbackIfNeeded() {
        guard let handle, sqlite3_get_autocommit(handle) == 0 else { return }
        // A failed ROLLBACK leaves nothing more we could do; SQLite rolls
        // back on close anyway.
        _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
    }

    private func withStatement<T>(
        _ sql: String, _ bindings: [SQLiteValue], _ body: (OpaquePointer) throws -> T
    ) throws -> T {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try bind(bindings, to: statement)
        return try body(statement)
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let cached = statementCache[StatementKey(sql: sql)] { return cached }
        let db = try open()
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(
            db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw error(rc, "prepare")
        }
        statementCache[StatementKey(sql: sql)] = statement
        return statement
    }

    private func bind(_ values: [SQLiteValue], to statement: OpaquePointer) throws {
        let expected = Int(sqlite3_bind_parameter_count(statement))
        guard expected == values.count else {
            throw SQLiteError(
                code: SQLITE_RANGE,
                message: "statement expects \(expected) parameters, got \(values.count)",
                operation: "bind")
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null:
                rc = sqlite3_bind_null(statement, index)
            case .integer(let number):
                rc = sqlite3_bind_int64(statement, index, number)
            case .text(var text):
                rc = text.withUTF8 { buffer in
                    // An empty buffer may have no base address, which SQLite
                    // would read as NULL; bind a real empty string instead.
                    guard let base = buffer.baseAddress, buffer.count > 0 else {
                        return "".withCString { csqlite_bind_text_transient(statement, index, $0, 0) }
                    }
                    return base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                        csqlite_bind_text_transient(statement, index, $0, Int32(buffer.count))
                    }
                }
            }
            guard rc == SQLITE_OK else { throw error(rc, "bind") }
        }
    }

    /// Advances a statement: true when a row is ready, false when done.
    private func step(_ statement: OpaquePointer) throws -> Bool {
        if sqlite3_stmt_readonly(statement) == 0 { writeStatements += 1 }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw error(rc, "step")
        }
    }

    private func error(_ rc: Int32, _ operation: String) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "connection is closed"
        let code = handle.map { sqlite3_extended_errcode($0) } ?? rc
        return SQLiteError(code: code, message: message, operation: operation)
    }
}

/// A statement's SQL text as the key of a connection's statement cache:
/// equal when the texts are, hashed by the length and the last 64 bytes
/// only. Every statement run looks its text up, and hashing all of it
/// (hundreds of bytes) was ≈ 1.4 % of the server's CPU under checkout load
/// (session 11); the cached texts are a module's few dozen queries, which
/// their tails and lengths tell apart well enough for a hash table.
private struct StatementKey: Hashable {
    let sql: String

    func hash(into hasher: inout Hasher) {
        let utf8 = sql.utf8
        hasher.combine(utf8.count)
        let hashedTail: Void? = utf8.withContiguousStorageIfAvailable { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes.suffix(64))))
        }
        if hashedTail == nil { hasher.combine(sql) }
    }
}
