import Foundation
import Logging
import PortalDomain
@testable import PortalStore
import XCTest

/// The writer commits the writes that queue up together (one fsync for
/// many); each write still stands or falls alone.
final class GroupCommitTests: XCTestCase {
    func testWritesCommittedTogetherStandOrFallAlone() async throws {
        let fixture = try await StoreFixture.make()
        do {
            try await fixture.service("walk", minutes: 30)
            let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
            try await fixture.capacity(block, "walk", 7, allowOverlap: true)
            var clients: [ClientID] = []
            for index in 0..<40 { clients.append(try await fixture.client("Client \(index)")) }
            let store = fixture.store
            let walk = try ServiceCode("walk")
            let first = clients[0]
            let everyone = clients

            // 40 holds on 7 slots, and 20 writes that fail part-way, all at once.
            let outcomes = await withTaskGroup(of: String.self) { group in
                for client in everyone {
                    group.addTask {
                        do {
                            _ = try await store.createHold(for: client, block: block.id, service: walk)
                            return "held"
                        } catch let error as PortalError {
                            return error.reason.rawValue
                        } catch {
                            return "other"
                        }
                    }
                }
                for _ in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await store.createHold(for: first, block: BlockID(rawValue: 999), service: walk)
                            return "held"
                        } catch let error as PortalError {
                            return error.reason.rawValue
                        } catch {
                            return "other"
                        }
                    }
                }
                var outcomes: [String: Int] = [:]
                for await outcome in group { outcomes[outcome, default: 0] += 1 }
                return outcomes
            }
            XCTAssertEqual(outcomes["held"], 7)
            XCTAssertEqual(outcomes["CAPACITY_FULL"], 33)
            XCTAssertEqual(outcomes["BLOCK_NOT_FOUND"], 20)
            let usage = try await fixture.usage(block, "walk")
            XCTAssertEqual(usage.held, 7)
            XCTAssertEqual(try fixture.auditCount(event: "hold.created"), 7)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func testAWriteWhoseCallerGaveUpIsRolledBackAlone() async throws {
        let fixture = try await StoreFixture.make()
        do {
            try await fixture.service("walk", minutes: 30)
            let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
            try await fixture.capacity(block, "walk", 5, allowOverlap: true)
            let kept = try await fixture.client("Kept")
            let store = fixture.store
            let walk = try ServiceCode("walk")
            let cancelled = Task {
                try await Task.sleep(nanoseconds: 1_000_000_000)
                return try await store.createHold(for: kept, block: block.id, service: walk)
            }
            cancelled.cancel()
            _ = try? await cancelled.value
            _ = try await fixture.hold(kept, block, "walk")
            let usage = try await fixture.usage(block, "walk")
            XCTAssertEqual(usage.held, 1)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    /// Writes queued behind a running one form the next group. One of them
    /// fails after writing (its transaction must be undone), one is refused
    /// before writing (nothing to undo), one is given up by its caller after
    /// writing; the others are committed exactly once each.
    func testAWriteThatFailsAfterWritingIsUndoneAloneAndTheRestOfItsGroupCommits() async throws {
        let directory = try makeTemporaryDirectory("portal-group")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("t.sqlite").path
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1000)
        try db.execute(
            script: "PRAGMA journal_mode = WAL; CREATE TABLE t (name TEXT NOT NULL UNIQUE, n INTEGER NOT NULL)")
        let sync = try XCTUnwrap(WALSync(walPath: try XCTUnwrap(db.walPath), logger: Logger(label: "test.sync")))
        let lane = WriterLane(connection: db, sync: sync)

        struct Refusal: Error {}
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let blocker = Task {
            try await lane.perform(changes: []) { db, _ in
                try db.run("INSERT INTO t VALUES ('blocker', 0)")
                started.signal()
                release.wait()
            }
        }
        // Let the blocker's group start, then queue 31 writes behind it.
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                started.wait()
                continuation.resume()
            }
        }
        let outcomes = await withTaskGroup(of: (String, String).self) { group in
            for index in 0..<30 {
                group.addTask {
                    let name = "w\(index)"
                    do {
                        try await lane.perform(changes: []) { db, _ in
                            try db.run("INSERT INTO t VALUES (?, 1)", [.text(name)])
                            if index == 7 { throw Refusal() }  // after writing
                        }
                        return (name, "ok")
                    } catch is Refusal {
                        return (name, "refused")
                    } catch {
                        return (name, "\(error)")
                    }
                }
            }
            group.addTask {
                do {
                    try await lane.perform(changes: []) { _, _ in throw Refusal() }  // before writing
                    return ("early", "ok")
                } catch is Refusal {
                    return ("early", "refused")
                } catch {
                    return ("early", "\(error)")
                }
            }
            // Give every task time to queue its write, then let the blocker finish.
            try? await Task.sleep(nanoseconds: 200_000_000)
            release.signal()
            var outcomes: [String: String] = [:]
            for await (name, outcome) in group { outcomes[name] = outcome }
            return outcomes
        }
        _ = try await blocker.value
        XCTAssertEqual(outcomes["w7"], "refused")
        XCTAssertEqual(outcomes["early"], "refused")
        for index in 0..<30 where index != 7 { XCTAssertEqual(outcomes["w\(index)"], "ok", "w\(index)") }

        await lane.close()
        let check = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1000)
        defer { check.close() }
        XCTAssertEqual(try check.integer("SELECT count(*) FROM t WHERE name = 'w7'"), 0, "the failed write is undone")
        XCTAssertEqual(try check.integer("SELECT count(*) FROM t"), 30, "the blocker and 29 writes, each once")
        XCTAssertEqual(try check.integer("SELECT sum(n) FROM t"), 29)
    }
}
