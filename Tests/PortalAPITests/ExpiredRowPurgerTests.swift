import Logging
import PortalAPI
import PortalClient
import PortalDomain
import PortalMessages
import PortalStore
import XCTest

/// The background purger portald runs: expired holds and expired portal
/// sessions leave the database; live ones stay and keep working.
final class ExpiredRowPurgerTests: XCTestCase {
    func testThePurgerRemovesExpiredHoldsAndSessionsAndKeepsLiveOnes() async throws {
        try await APITestServer.with(accounts: .init(sessionLifetimeSeconds: 3_600)) { service in
            let admin = service.admin
            _ = try await admin.call(
                AdminMethods.upsertService,
                UpsertServiceRequest(
                    service: .init(serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp")))
            let block = try await admin.call(
                AdminMethods.createBlock,
                CreateBlockRequest(date: "2025-10-08", startTime: "09:00", endTime: "12:00", label: "Morning")
            ).block!.blockId
            _ = try await admin.call(
                AdminMethods.setCapacity, SetCapacityRequest(blockId: block, serviceCode: "walk", capacity: 5))
            var clients: [Int64] = []
            for name in ["ada", "bob"] {
                let client = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: name)).client!
                _ = try await admin.call(
                    AdminMethods.createPortalLogin,
                    CreatePortalLoginRequest(clientId: client.clientId, username: name, password: "correct horse"))
                clients.append(client.clientId)
            }
            let portal = service.anonymousClient()
            func login(_ username: String) async throws -> String {
                try await portal.call(
                    PortalMethods.login, LoginRequest(username: username, password: "correct horse"),
                    credentials: .anonymous
                ).sessionToken
            }
            func hold(_ client: Int64) async throws {
                _ = try await service.store.createHold(
                    for: ClientID(rawValue: client), block: BlockID(rawValue: block), service: try ServiceCode("walk"))
            }

            // Ada's session and hold expire; Bob logs in and holds after that.
            let adaSession = try await login("ada")
            try await hold(clients[0])
            service.clock.advance(bySeconds: 3_601)
            let bobSession = try await login("bob")
            try await hold(clients[1])
            XCTAssertEqual(try count("SELECT count(*) FROM sessions", in: service), 2)
            XCTAssertEqual(try count("SELECT count(*) FROM holds", in: service), 2)

            var logger = Logger(label: "test.purger")
            logger.logLevel = .critical
            let purger = ExpiredRowPurger(store: service.store, interval: .milliseconds(20), logger: logger)
            let running = Task { try await purger.run() }
            let deadline = ContinuousClock.now + .seconds(10)
            while try count("SELECT count(*) FROM sessions", in: service) > 1
                || count("SELECT count(*) FROM holds", in: service) > 1,
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            running.cancel()
            _ = await running.result

            XCTAssertEqual(
                try count("SELECT count(*) FROM holds WHERE client_id = ?", [.integer(clients[1])], in: service), 1,
                "Bob's live hold stays")
            XCTAssertEqual(try count("SELECT count(*) FROM holds", in: service), 1, "Ada's expired hold is gone")
            XCTAssertEqual(
                try count("SELECT count(*) FROM audit_log WHERE event = 'hold.expired'", in: service), 1,
                "the purged hold's end is audited")
            XCTAssertEqual(try count("SELECT count(*) FROM sessions", in: service), 1, "Ada's expired session is gone")
            let bobs = try await portal.call(
                PortalMethods.listMyBookings, ListMyBookingsRequest(), credentials: .bearer(bobSession))
            XCTAssertEqual(bobs.bookings.count, 0, "Bob's live session still works")
            let refused = await expectRPCError {
                try await portal.call(
                    PortalMethods.listMyBookings, ListMyBookingsRequest(), credentials: .bearer(adaSession))
            }
            XCTAssertEqual(refused?.reason, .invalidCredentials)
            await portal.close()
        }
    }

    private func count(_ sql: String, _ bindings: [SQLiteValue] = [], in service: APITestServer) throws -> Int64 {
        let db = try SQLiteConnection(path: service.databasePath, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        return try db.integer(sql, bindings) ?? -1
    }
}
