import Foundation
import PortalDomain
@testable import PortalStore
import XCTest

/// The writer keeps the blocks and services its writes read for the rest
/// of the transaction (``DefinitionRows``): a change to one of them, by the
/// writer itself or by anyone between two transactions, is never hidden.
final class DefinitionRowsTests: XCTestCase {
    private var fixture: StoreFixture!

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    func testAWriteSeesTheBlocksAndServicesItChangesItself() async throws {
        try await fixture.service("walk", minutes: 30, price: 1500)
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let walk = try ServiceCode("walk")
        let seen = try await fixture.store.writer.perform(changes: []) { db, _ in
            var seen: [String] = []
            func look() throws {
                let kept = try Query.block(db, block.id)
                let service = try Query.service(db, walk)
                seen.append("\(kept.label) \(kept.times.start)-\(kept.times.end) \(service.priceCents)")
            }
            try look()
            try look()
            try db.run(
                "UPDATE blocks SET label = 'Late Run', start_minute = 600 WHERE block_id = ?",
                [.integer(block.id.rawValue)])
            try look()
            // An upsert's update branch counts as a change too.
            try db.run(
                """
                INSERT INTO services (service_code, duration_minutes, price_cents, currency, created_at, updated_at)
                VALUES ('walk', 30, 1800, 'gbp', 0, 0)
                ON CONFLICT (service_code) DO UPDATE SET price_cents = excluded.price_cents
                """)
            try look()
            try db.run("DELETE FROM blocks WHERE block_id = ?", [.integer(block.id.rawValue)])
            do {
                _ = try Query.block(db, block.id)
                seen.append("still there")
            } catch let error as PortalError {
                seen.append(error.reason.rawValue)
            }
            return seen
        }
        XCTAssertEqual(seen, [
            "Morning Run 09:00-12:00 1500", "Morning Run 09:00-12:00 1500",
            "Late Run 10:00-12:00 1500", "Late Run 10:00-12:00 1800", "BLOCK_NOT_FOUND",
        ])
    }

    func testAChangeByAnotherConnectionIsSeenByTheWritersNextTransaction() async throws {
        try await fixture.service("walk", minutes: 30, price: 1500)
        let block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        let walk = try ServiceCode("walk")
        let writer = fixture.store.writer
        func look() async throws -> String {
            try await writer.perform(changes: []) { db, _ in
                let kept = try Query.block(db, block.id)
                return "\(kept.label) \(try Query.service(db, walk).priceCents)"
            }
        }
        let before = try await look()
        XCTAssertEqual(before, "Morning Run 1500")

        let other = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 1000)
        defer { other.close() }
        try other.run("UPDATE blocks SET label = 'Renamed' WHERE block_id = ?", [.integer(block.id.rawValue)])
        try other.run("UPDATE services SET price_cents = 2100 WHERE service_code = 'walk'")
        let after = try await look()
        XCTAssertEqual(after, "Renamed 2100")
    }
}
