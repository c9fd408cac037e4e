import Foundation
import Logging
import PortalDomain
@testable import PortalStore
import XCTest

/// The writer's commits are synced on a thread of their own and
/// checkpointed on another (`WALSync`, `Checkpointer`): answered writes
/// survive a reopen, a failed sync stops all writing, and the log does not
/// grow without end under a stream of writes.
final class WALDurabilityTests: XCTestCase {
    func testAnsweredWritesAreThereAfterReopenWithTheSyncOnItsOwnThread() async throws {
        let fixture = try await StoreFixture.make()
        do {
            XCTAssertTrue(fixture.store.writer.syncsOffThread, "a WAL database file syncs off the writer's thread")
            try await fixture.service("walk", minutes: 30)
            let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
            try await fixture.capacity(block, "walk", 30, allowOverlap: true)
            var clients: [ClientID] = []
            for index in 0..<40 { clients.append(try await fixture.client("Client \(index)")) }
            let store = fixture.store
            let walk = try ServiceCode("walk")
            let everyone = clients
            let held = await withTaskGroup(of: Bool.self) { group in
                for client in everyone {
                    group.addTask {
                        (try? await store.createHold(for: client, block: block.id, service: walk)) != nil
                    }
                }
                var held = 0
                for await ok in group where ok { held += 1 }
                return held
            }
            XCTAssertEqual(held, 30)

            try await fixture.reopen()
            let usage = try await fixture.usage(block, "walk")
            XCTAssertEqual(usage.held, 30)
            XCTAssertEqual(usage.remaining, 0)
            XCTAssertEqual(try fixture.auditCount(event: "hold.created"), 30)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func testAFailedSyncAnswersWithAnErrorAndStopsAllWrites() async throws {
        // fdatasync of /dev/null fails (EINVAL): a real failing descriptor.
        let sync = try XCTUnwrap(WALSync(walPath: "/dev/null", logger: Logger(label: "test.sync")))
        let answered = expectation(description: "answered after the sync")
        let failure = Locked<(any Error)?>(nil)
        sync.answerWhenDurable([
            { error in
                failure.withLock { $0 = error }
                answered.fulfill()
            }
        ])
        await fulfillment(of: [answered], timeout: 10)
        let error = try XCTUnwrap(failure.withLock { $0 } as? PortalError)
        XCTAssertEqual(error.kind, .internal)
        XCTAssertEqual(error.reason, .internalError)
        XCTAssertFalse(error.message.contains("/dev/null"), "no path or errno in the client's message")
        XCTAssertNotNil(sync.failure)

        // A writer over that sync refuses every later write, and writes nothing.
        let directory = try makeTemporaryDirectory("portal-wal-sync")
        defer { try? FileManager.default.removeItem(at: directory) }
        let db = try SQLiteConnection(
            path: directory.appendingPathComponent("t.sqlite").path, busyTimeoutMilliseconds: 1000)
        try db.execute(script: "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER)")
        let lane = WriterLane(connection: db, sync: sync)
        do {
            try await lane.perform(changes: []) { db, _ in try db.run("INSERT INTO t VALUES (1)") }
            XCTFail("a write after a failed sync must be refused")
        } catch let refused as PortalError {
            XCTAssertEqual(refused.reason, .internalError)
        }
        do {
            try await lane.perform(changes: []) { db, _ in try db.run("INSERT INTO t VALUES (2)") }
            XCTFail("every later write is refused too")
        } catch let refused as PortalError {
            XCTAssertEqual(refused.reason, .internalError)
        }
        await lane.close()
        let check = try SQLiteConnection(
            path: directory.appendingPathComponent("t.sqlite").path, busyTimeoutMilliseconds: 1000)
        defer { check.close() }
        XCTAssertEqual(try check.integer("SELECT count(*) FROM t"), 0)
    }

    func testTheLogStartsAgainUnderAStreamOfWrites() async throws {
        // A quarter of the default threshold, so that 24,000 frames are
        // several checkpoints' worth without writing hundreds of MiB.
        let fixture = try await StoreFixture.make(checkpointFrames: 4096)
        do {
            let writer = fixture.store.writer
            try await writer.perform(changes: []) { db, _ in
                try db.run("CREATE TABLE scratch (payload BLOB NOT NULL)")
            }
            // 60 writes of 400 pages each: 24,000 frames (≈ 94 MiB) if the
            // log never started again.
            let writes = 60
            let pagesPerWrite = 400
            var largestLog: Int64 = 0
            let walPath = fixture.path + "-wal"
            var restarts = 0
            var lastSalts = walSalts(walPath)
            for _ in 0..<writes {
                try await writer.perform(changes: []) { db, _ in
                    try db.run(
                        """
                        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                        INSERT INTO scratch SELECT randomblob(4000) FROM n
                        """,
                        [.int(pagesPerWrite)])
                }
                let size = try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int64 ?? 0
                largestLog = max(largestLog, size)
                let now = walSalts(walPath)
                if let lastSalts, now != lastSalts { restarts += 1 }
                lastSalts = now
            }
            XCTAssertGreaterThanOrEqual(restarts, 2, "the log must start again once checkpointed")
            // How far it grows before each restart depends on how fast the
            // disk syncs the copied pages while these writes keep coming
            // (the bulk copy ends with a sync of the database file); under
            // a loaded machine ≈ 13,500 of these 24,000 frames were seen.
            let neverRestarted = Int64(writes * pagesPerWrite * 4096)
            XCTAssertLessThan(
                largestLog, neverRestarted * 3 / 4,
                "the log must start again once checkpointed (largest \(largestLog) bytes)")

            try await fixture.reopen()
            let rows = try await fixture.store.writer.perform(changes: []) { db, _ in
                try db.integer("SELECT count(*) FROM scratch")
            }
            XCTAssertEqual(rows, Int64(writes * pagesPerWrite))
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func testTheLogFileIsTruncatedOnceTheWriterIsIdle() async throws {
        // One burst of 3,000 pages through a 256-frame threshold: the log
        // file grows to ≈ 12 MiB and, once the log restarts, keeps that size.
        let fixture = try await StoreFixture.make(checkpointFrames: 256, idleCheckpointSeconds: 0.2)
        do {
            let writer = fixture.store.writer
            try await writer.perform(changes: []) { db, _ in
                try db.run("CREATE TABLE scratch (payload BLOB NOT NULL)")
                try db.run(
                    """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
                    INSERT INTO scratch SELECT randomblob(4000) FROM n
                    """)
            }
            let walPath = fixture.path + "-wal"
            func logSize() throws -> Int64 {
                try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int64 ?? 0
            }
            let afterBurst = try logSize()
            XCTAssertGreaterThan(afterBurst, Int64(2000 * 4096), "the burst went through the log")
            // Idle: within a few idle periods the file is cut to nothing.
            var size = afterBurst
            for _ in 0..<100 where size > 0 {
                try await Task.sleep(nanoseconds: 100_000_000)
                size = try logSize()
            }
            XCTAssertEqual(size, 0, "the idle log file is truncated (was \(afterBurst) bytes)")
            // Nothing was lost, and writing goes on as before.
            let rows = try await writer.perform(changes: []) { db, _ in
                try db.run("INSERT INTO scratch VALUES (x'00')")
                return try db.integer("SELECT count(*) FROM scratch")
            }
            XCTAssertEqual(rows, 3001)
            try await fixture.reopen()
            let reopened = try await fixture.store.writer.perform(changes: []) { db, _ in
                try db.integer("SELECT count(*) FROM scratch WHERE length(payload) = 4000")
            }
            XCTAssertEqual(reopened, 3000)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    /// The writer's finishing copy runs without SQLite's syncs and hands the
    /// database file's sync to the checkpointer's thread: the writer's next
    /// COMMIT — which restarts the log over the copied frames — must wait
    /// for it. Here that sync is held up for 300 ms while writes keep
    /// coming: the log's header (its salts change when it restarts) must
    /// not change meanwhile, and must once the sync returned.
    func testTheLogRestartsOnlyAfterTheDatabaseFileIsSynced() async throws {
        let directory = try makeTemporaryDirectory("portal-wal-restart")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("t.sqlite").path
        let logger = Logger(label: "test.checkpoint")
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1000)
        try db.execute(script: """
            PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_spill = OFF;
            CREATE TABLE t (payload BLOB NOT NULL);
            """)
        try db.trackWALFrames()
        let walPath = try XCTUnwrap(db.walPath)
        let sync = try XCTUnwrap(WALSync(walPath: walPath, logger: logger))
        let checkpointConnection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 100)
        try checkpointConnection.execute(script: "PRAGMA synchronous = FULL")

        struct Seen { var held = false; var before: [UInt8]?; var during: [UInt8]? }
        let seen = Locked(Seen())
        let checkpointer = try XCTUnwrap(
            Checkpointer(
                connection: checkpointConnection, sync: sync, databasePath: path, threshold: 64,
                idleSeconds: 60, logger: logger,
                beforeDatabaseSync: { afterFinishingCopy in
                    guard afterFinishingCopy, !seen.withLock({ $0.held }) else { return }
                    let before = walSalts(walPath)
                    // Writes keep being queued meanwhile (below).
                    usleep(300_000)
                    let during = walSalts(walPath)
                    seen.withLock { $0 = Seen(held: true, before: before, during: during) }
                }))
        let lane = WriterLane(connection: db, sync: sync, checkpointer: checkpointer)

        var restartedAfterTheSync = false
        for _ in 0..<2000 where !restartedAfterTheSync {
            try await lane.perform(changes: []) { db, _ in
                try db.run("INSERT INTO t SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2)")
            }
            let state = seen.withLock { $0 }
            restartedAfterTheSync = state.held && walSalts(walPath) != state.before
        }
        await lane.close()

        let state = seen.withLock { $0 }
        XCTAssertTrue(state.held, "a finishing copy ran and its database sync was held up")
        XCTAssertNotNil(state.before, "the log's header was read before the sync")
        XCTAssertEqual(state.during, state.before, "the log did not restart while the database file was being synced")
        XCTAssertTrue(restartedAfterTheSync, "the log restarted once the sync returned")
        let check = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1000)
        defer { check.close() }
        XCTAssertEqual(try check.row("PRAGMA integrity_check") { $0.text(0) }, "ok")
    }
}

/// The salts of the write-ahead log at `walPath` (bytes 16–23 of its
/// header), which change each time the log starts again; `nil` when it
/// cannot be read.
private func walSalts(_ walPath: String) -> [UInt8]? {
    guard let handle = FileHandle(forReadingAtPath: walPath) else { return nil }
    defer { try? handle.close() }
    guard let header = try? handle.read(upToCount: 24), header.count == 24 else { return nil }
    return Array(header.suffix(8))
}
