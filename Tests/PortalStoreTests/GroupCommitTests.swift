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
}
