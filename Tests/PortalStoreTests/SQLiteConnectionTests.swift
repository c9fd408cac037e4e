import Foundation
import PortalStore
import XCTest

/// The thin wrapper's own promises.
final class SQLiteConnectionTests: XCTestCase {
    private var directory: URL!
    private var db: SQLiteConnection!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("portal-sqlite-tests")
        db = try SQLiteConnection(
            path: directory.appendingPathComponent("t.sqlite").path, busyTimeoutMilliseconds: 100)
        try db.execute(script: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT) STRICT")
    }

    override func tearDownWithError() throws {
        db.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func testSQLiteKeepsNoMemoryStatistics() throws {
        // They would put every SQLite allocation behind one process-wide lock.
        try db.run("INSERT INTO t (name) VALUES (?)", [.text("x")])
        XCTAssertEqual(try db.integer("SELECT count(*) FROM t"), 1)
        XCTAssertFalse(SQLiteConnection.keepsMemoryStatistics)
    }

    func testEmptyTextIsBoundAsEmptyNotNull() throws {
        try db.run("INSERT INTO t (name) VALUES (?)", [.text("")])
        XCTAssertEqual(try db.integer("SELECT count(*) FROM t WHERE name = ''"), 1)
        XCTAssertEqual(try db.integer("SELECT count(*) FROM t WHERE name IS NULL"), 0)
    }

    func testTextRoundTripsWithEmbeddedNulAndNonASCII() throws {
        let text = "a\u{0}b – é 🐕"
        try db.run("INSERT INTO t (name) VALUES (?)", [.text(text)])
        XCTAssertEqual(try db.row("SELECT name FROM t") { $0.text(0) }, text)
    }

    func testAStatementIsReusedWithFreshBindings() throws {
        for index in 0..<100 {
            try db.run("INSERT INTO t (name) VALUES (?)", [.text("n\(index)")])
        }
        XCTAssertEqual(try db.integer("SELECT count(*) FROM t"), 100)
        XCTAssertEqual(try db.row("SELECT name FROM t WHERE id = ?", [.integer(42)]) { $0.text(0) }, "n41")
    }

    func testWrongParameterCountIsAnError() {
        XCTAssertThrowsError(try db.run("INSERT INTO t (name) VALUES (?)", []))
    }

    func testAnErrorOrAnAbortRollsTheTransactionBack() throws {
        XCTAssertThrowsError(
            try db.immediateTransaction {
                try db.run("INSERT INTO t (name) VALUES ('x')")
                throw CancellationError()
            })
        XCTAssertThrowsError(
            try db.immediateTransaction(shouldAbort: { true }) {
                try db.run("INSERT INTO t (name) VALUES ('y')")
            }
        ) { XCTAssertTrue($0 is CancellationError) }
        XCTAssertEqual(try db.integer("SELECT count(*) FROM t"), 0)
        try db.immediateTransaction { try db.run("INSERT INTO t (name) VALUES ('z')") }
        XCTAssertEqual(try db.integer("SELECT count(*) FROM t"), 1)
    }

    func testAWriteLockHeldElsewhereEndsAsBusy() throws {
        let other = try SQLiteConnection(
            path: directory.appendingPathComponent("t.sqlite").path, busyTimeoutMilliseconds: 100)
        defer { other.close() }
        try other.run("BEGIN IMMEDIATE")
        XCTAssertThrowsError(try db.immediateTransaction { try db.run("INSERT INTO t (name) VALUES ('x')") }) {
            XCTAssertTrue(($0 as? SQLiteError)?.isBusy ?? false, "\($0)")
        }
        try other.run("ROLLBACK")
    }
}
