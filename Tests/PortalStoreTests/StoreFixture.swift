import Foundation
import Logging
import PortalDomain
import PortalStore
import XCTest

/// A new, empty folder under the system's temporary directory, named
/// `prefix` and a UUID; the caller removes it.
func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Waits for `semaphore` without blocking a cooperative thread.
func waitFor(_ semaphore: DispatchSemaphore) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().async {
            semaphore.wait()
            continuation.resume()
        }
    }
}

/// A real SQLite database file in a fresh temporary folder, a store over it,
/// a manual clock and the business calendar. No mocks.
final class StoreFixture: @unchecked Sendable {
    let directory: URL
    let path: String
    let clock: ManualWallClock
    let calendar: BusinessCalendar
    let holdLifetimeSeconds: Int64
    private(set) var store: PortalStore

    /// 2025-10-01 12:00 UTC: before every date the tests book.
    static let defaultNow = Instant(unixSeconds: 1_759_320_000)

    static func make(
        timeZone: String = "Europe/London", now: Instant = defaultNow, holdLifetimeSeconds: Int64 = 600,
        checkpointFrames: Int = PortalStore.Configuration.defaultCheckpointFrames,
        idleCheckpointSeconds: Double = 10
    ) async throws -> StoreFixture {
        let directory = try makeTemporaryDirectory("portal-store-tests")
        let path = directory.appendingPathComponent("portal.sqlite").path
        let clock = ManualWallClock(now: now)
        let calendar = try BusinessCalendar(timeZoneIdentifier: timeZone)
        let store = try await PortalStore.open(
            configuration: .init(
                path: path, holdLifetimeSeconds: holdLifetimeSeconds, checkpointFrames: checkpointFrames,
                idleCheckpointSeconds: idleCheckpointSeconds),
            calendar: calendar, clock: clock, logger: Logger(label: "test.store"))
        return StoreFixture(
            directory: directory, path: path, clock: clock, calendar: calendar,
            holdLifetimeSeconds: holdLifetimeSeconds, store: store)
    }

    private init(
        directory: URL, path: String, clock: ManualWallClock, calendar: BusinessCalendar,
        holdLifetimeSeconds: Int64, store: PortalStore
    ) {
        self.directory = directory
        self.path = path
        self.clock = clock
        self.calendar = calendar
        self.holdLifetimeSeconds = holdLifetimeSeconds
        self.store = store
    }

    /// Closes the store and opens the same file again.
    func reopen() async throws {
        await store.close()
        store = try await PortalStore.open(
            configuration: .init(path: path, holdLifetimeSeconds: holdLifetimeSeconds),
            calendar: calendar, clock: clock, logger: Logger(label: "test.store"))
    }

    func tearDown() async {
        await store.close()
        // Schema 7 dropped the JSON check on audit details: whatever a test
        // wrote must still be a JSON object.
        if let db = try? SQLiteConnection(path: path, busyTimeoutMilliseconds: 5000) {
            XCTAssertEqual(
                try db.integer(
                    "SELECT count(*) FROM audit_log WHERE NOT json_valid(detail) OR json_type(detail) <> 'object'"),
                0, "audit entries whose detail is not a JSON object")
            db.close()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Every row of every table, read through a separate connection: two
    /// equal snapshots mean nothing was written in between (audit log included).
    func snapshot() throws -> [String: [[SQLiteValue]]] {
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        let tables = try db.rows(
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name") { $0.text(0) }
        var result: [String: [[SQLiteValue]]] = [:]
        for table in tables {
            result[table] = try db.rows("SELECT * FROM \"\(table)\"") { row in
                (0..<row.columnCount).map { row.value($0) }
            }.sorted { "\($0)" < "\($1)" }
        }
        return result
    }

    /// Audit entries with the given event.
    func auditCount(event: String) throws -> Int {
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        return Int(try db.integer("SELECT count(*) FROM audit_log WHERE event = ?", [.text(event)]) ?? 0)
    }

    // MARK: Building data the way the wire layer will: from strings.

    @discardableResult
    func service(_ code: String, minutes: Int, price: Int64 = 1500, currency: String = "gbp") async throws
        -> ServiceDefaults
    {
        let service = try ServiceDefaults(
            code: ServiceCode(code), durationMinutes: minutes, priceCents: price, currency: currency)
        return try await store.upsertService(service).service
    }

    func block(_ date: String, _ start: String, _ end: String, _ label: String) async throws -> TimetableBlock {
        try await store.createBlock(
            on: LocalDate(date), times: BlockTimes(start: start, end: end), label: BlockLabel(label))
    }

    @discardableResult
    func capacity(_ block: TimetableBlock, _ code: String, _ capacity: Int, allowOverlap: Bool = false)
        async throws -> CapacityUsage
    {
        try await store.setCapacity(
            BlockCapacity(block: block.id, service: ServiceCode(code), capacity: capacity, allowOverlap: allowOverlap))
    }

    func client(_ name: String = "Client") async throws -> ClientID {
        try await store.createClient(name: name).id
    }

    func hold(_ client: ClientID, _ block: TimetableBlock, _ code: String) async throws -> HoldOutcome {
        try await store.createHold(for: client, block: block.id, service: ServiceCode(code))
    }

    func usage(_ block: TimetableBlock, _ code: String) async throws -> CapacityUsage {
        try await store.capacityUsage(of: block.id, for: ServiceCode(code))
    }
}

/// Asserts that `body` throws a `PortalError` with this kind and reason (and
/// field, when given).
func assertPortalError<T>(
    _ kind: PortalError.Kind, _ reason: PortalError.Reason, field: String? = nil,
    file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        XCTFail("expected \(reason), but the call succeeded", file: file, line: line)
    } catch let error as PortalError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertEqual(error.reason, reason, "\(error)", file: file, line: line)
        if let field { XCTAssertEqual(error.field, field, file: file, line: line) }
        XCTAssertFalse(error.message.isEmpty, file: file, line: line)
        XCTAssertFalse(error.message.contains("SELECT"), file: file, line: line)
    } catch {
        XCTFail("expected PortalError \(reason), got \(error)", file: file, line: line)
    }
}
