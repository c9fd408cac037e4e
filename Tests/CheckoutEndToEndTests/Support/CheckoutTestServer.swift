import Foundation
import LocalStripeHarness
import Logging
import NIOPosix
@testable import PortalCheckout
import PortalClient
import PortalDomain
import PortalAPI
import PortalMessages
import PortalServer
import PortalStore
import PortalStripe
import PortalWire
import ServiceLifecycle
import XCTest

@testable import portald

/// The real `portald` assembly — real store in a temporary SQLite file, real
/// router, real server on 127.0.0.1 port 0, the outbox worker and the sweeper
/// — with a manual clock, talking to a real localstripe.
///
/// Clients are created over the admin API, get a portal login, and log in
/// for real (`Portal/Login`); every portal call carries that session.
final class CheckoutTestServer: @unchecked Sendable {
    /// 2025-10-01 12:00 UTC: a week before the date the tests book.
    static let start = Instant(unixSeconds: 1_759_320_000)
    static let date = "2025-10-08"
    static let adminKey = "test-admin-key-0123456789"

    let directory: URL
    let databasePath: String
    let clock: ManualWallClock
    let assembly: PortalServerAssembly.Assembly
    let port: Int
    let stripe: LocalStripe
    let admin: PortalClient
    let eventLoopGroup: MultiThreadedEventLoopGroup
    private let openClients = Locked<[PortalClient]>([])

    private init(
        directory: URL, databasePath: String, clock: ManualWallClock, assembly: PortalServerAssembly.Assembly,
        port: Int, stripe: LocalStripe, eventLoopGroup: MultiThreadedEventLoopGroup
    ) {
        self.directory = directory
        self.databasePath = databasePath
        self.clock = clock
        self.assembly = assembly
        self.port = port
        self.stripe = stripe
        self.eventLoopGroup = eventLoopGroup
        var configuration = PortalClient.Configuration.defaults
        configuration.authorization = .bearer(Self.adminKey)
        configuration.defaultTimeout = .seconds(30)
        self.admin = PortalClient(
            host: "127.0.0.1", port: port, configuration: configuration, eventLoopGroup: eventLoopGroup)
    }

    var store: PortalStore { assembly.store }
    var sweeper: CheckoutSweeper { assembly.sweeper! }
    var outboxWorker: OutboxWorker { assembly.outboxWorker! }
    /// The paid holds StartCheckout keeps for FinalizeCheckout (StartedHolds).
    var startedHoldCount: Int { assembly.checkout?.startedHolds.count ?? 0 }

    /// Runs `body` against a fresh server, then shuts it down gracefully.
    ///
    /// - Parameters:
    ///   - gateway: the payment provider; localstripe's when `nil`.
    ///   - payments: `false` runs the server without a payment provider.
    static func with(
        gateway: (any PaymentGateway)? = nil, payments: Bool = true,
        _ body: (CheckoutTestServer) async throws -> Void
    ) async throws {
        let stripe = try LocalStripe.sharedOrSkip()
        try await stripe.reset()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portal-checkout-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let databasePath = directory.appendingPathComponent("portal.sqlite").path

        var server = ServerConfiguration.defaults
        server.host = "127.0.0.1"
        server.port = 0
        server.timeouts.drainGracePeriod = .seconds(5)
        let configuration = PortaldConfiguration(
            host: "127.0.0.1", port: 0, databasePath: databasePath, timeZone: "Europe/London",
            holdMinutes: 10, adminKeys: [adminKey], stripeAPIKey: nil, stripeAPIBase: stripe.baseURL,
            payments: payments ? .stripe : .disabled, holdGraceSeconds: 60, faults: .none, server: server,
            logLevel: .error)
        let clock = ManualWallClock(now: start)
        var logger = Logger(label: "test.portald")
        logger.logLevel = .critical
        let quiet = Logger(label: "test.stripe", factory: { _ in SwiftLogNoOpLogHandler() })
        let assembly = try await PortalServerAssembly.makeServices(
            configuration: configuration, adminKeys: [adminKey], logger: logger,
            overrides: .init(
                clock: clock,
                gateway: payments ? (gateway ?? stripe.makeClient(logger: quiet)) : nil,
                // The cheapest hashing the accounts accept (PBKDF2-SHA256 at
                // OWASP's 210,000 rounds, 4x cheaper than the default scrypt
                // in a debug build): still a real KDF, and 200 logins stay short.
                accounts: PortalAccounts.Configuration(
                    passwordHashing: PasswordHashingPolicy(
                        algorithm: .pbkdf2SHA256(rounds: PasswordHashingPolicy.minimumPBKDF2Rounds))),
                checkout: Checkout.Configuration(
                    holdGraceSeconds: 60, sweepInterval: .seconds(3600), outboxPollInterval: .milliseconds(200))))
        let group = ServiceGroup(services: assembly.services, logger: logger)
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let port = try await assembly.server.boundAddress.port!
                let running = CheckoutTestServer(
                    directory: directory, databasePath: databasePath, clock: clock, assembly: assembly,
                    port: port, stripe: stripe, eventLoopGroup: eventLoopGroup)
                do {
                    try await body(running)
                    // Schema 7 dropped the JSON check on audit details: every
                    // scenario's entries must still be valid JSON objects.
                    XCTAssertEqual(
                        try running.count(
                            "SELECT count(*) FROM audit_log WHERE NOT json_valid(detail) OR json_type(detail) <> 'object'"),
                        0, "audit entries whose detail is not a JSON object")
                } catch {
                    await running.closeClients()
                    await group.triggerGracefulShutdown()
                    throw error
                }
                await running.closeClients()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        } catch {
            await assembly.store.close()
            try? await eventLoopGroup.shutdownGracefully()
            throw error
        }
        await assembly.store.close()
        try await eventLoopGroup.shutdownGracefully()
    }

    private func closeClients() async {
        for client in openClients.withLock({ $0 }) + [admin] { await client.close() }
    }

    // MARK: Setting up through the admin API

    /// walk (60 min, £15.00) and the 09:00–12:00 "Morning Run" with `capacity` walks.
    @discardableResult
    func seedMorningRun(capacity: Int32 = 5, price: Int64 = 1500) async throws -> Int64 {
        _ = try await admin.call(
            AdminMethods.upsertService,
            UpsertServiceRequest(
                service: ServiceDefaults(
                    serviceCode: "walk", durationMinutes: 60, priceCents: price, currency: "gbp", notes: "")))
        let block = try await admin.call(
            AdminMethods.createBlock,
            CreateBlockRequest(date: Self.date, startTime: "09:00", endTime: "12:00", label: "Morning Run"))
        let blockID = block.block!.blockId
        _ = try await admin.call(
            AdminMethods.setCapacity,
            SetCapacityRequest(blockId: blockID, serviceCode: "walk", capacity: capacity, allowOverlap: false))
        return blockID
    }

    /// A new client (`Admin/CreateClient`) with a portal login
    /// (`Admin/CreatePortalLogin`), logged in (`Portal/Login`) on a
    /// connection of its own.
    func signUp(_ name: String) async throws -> PortalSession {
        let created = try await admin.call(
            AdminMethods.createClient, CreateClientRequest(name: name, email: "", phone: "", canSelfReschedule: false))
        let clientID = try XCTUnwrap(created.client?.clientId)
        let username = "user-\(clientID)-\(name.filter { $0.isLetter || $0.isNumber })"
        let password = "correct horse \(clientID)"
        _ = try await admin.call(
            AdminMethods.createPortalLogin,
            CreatePortalLoginRequest(clientId: clientID, username: username, password: password))
        let login = try await admin.call(
            PortalMethods.login, LoginRequest(username: username, password: password), credentials: .anonymous)
        XCTAssertEqual(login.clientId, clientID)
        let token = login.sessionToken
        var configuration = PortalClient.Configuration.defaults
        configuration.authorization = .bearer(token)
        configuration.defaultTimeout = .seconds(60)
        let connection = PortalClient(
            host: "127.0.0.1", port: port, configuration: configuration, eventLoopGroup: eventLoopGroup)
        openClients.withLock { $0.append(connection) }
        return PortalSession(clientID: clientID, token: token, rpc: connection)
    }

    // MARK: Looking

    /// The walk row of the Morning Run in `GetDay`.
    func walkUsage() async throws -> ServiceCapacity {
        let day = try await admin.call(AdminMethods.getDay, GetDayRequest(date: Self.date))
        return try XCTUnwrap(day.blocks.first?.capacities.first { $0.serviceCode == "walk" })
    }

    /// `Admin/ListBookings` of the test date.
    func adminBookings() async throws -> [PortalMessages.Booking] {
        try await admin.call(AdminMethods.listBookings, ListBookingsRequest(date: Self.date)).bookings
    }

    /// A PaymentIntent as localstripe has it now.
    func paymentIntent(_ id: String) async throws -> PaymentIntent {
        try await stripe.makeClient().retrievePaymentIntent(id: id)
    }

    /// Every row of every table, read through a connection of its own: two
    /// equal snapshots mean nothing was written in between (audit log included).
    func snapshot() throws -> [String: [[SQLiteValue]]] {
        let db = try SQLiteConnection(path: databasePath, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        let tables = try db.rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name") { $0.text(0) }
        var result: [String: [[SQLiteValue]]] = [:]
        for table in tables {
            result[table] = try db.rows("SELECT * FROM \"\(table)\"") { row in
                (0..<row.columnCount).map { row.value($0) }
            }
        }
        return result
    }

    /// The number of rows `sql` counts.
    func count(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> Int {
        let db = try SQLiteConnection(path: databasePath, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        return Int(try db.integer(sql, bindings) ?? 0)
    }

    /// Audit events about a PaymentIntent, oldest first.
    func paymentEvents(_ paymentIntentID: String) throws -> [String] {
        let db = try SQLiteConnection(path: databasePath, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        return try db.rows(
            "SELECT event FROM audit_log WHERE entity = 'payment' AND entity_id = ? ORDER BY audit_id",
            [.text(paymentIntentID)]) { $0.text(0) }
    }

    /// Waits (real time) until `condition` holds, for background work.
    func eventually(
        _ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("timed out waiting for \(what)", file: file, line: line)
    }
}

/// One logged-in client: its id, session token and connection.
struct PortalSession: Sendable {
    let clientID: Int64
    let token: String
    let rpc: PortalClient

    func listBlocks() async throws -> [PortalMessages.AvailableBlock] {
        try await rpc.call(
            PortalMethods.listBlocks,
            ListBlocksRequest(date: CheckoutTestServer.date, serviceCode: "walk")).blocks
    }

    func startCheckout(block: Int64, expectedPrice: Int64? = 1500) async throws -> StartCheckoutResponse {
        try await rpc.call(
            PortalMethods.startCheckout,
            StartCheckoutRequest(serviceCode: "walk", blockId: block, expectedPriceCents: expectedPrice))
    }

    func finalize(_ started: StartCheckoutResponse) async throws -> PortalMessages.Booking {
        try await finalize(holdToken: started.holdToken, paymentIntent: started.paymentIntentId)
    }

    func finalize(holdToken: String, paymentIntent: String) async throws -> PortalMessages.Booking {
        let answer = try await rpc.call(
            PortalMethods.finalizeCheckout,
            FinalizeCheckoutRequest(holdToken: holdToken, paymentIntentId: paymentIntent))
        return try XCTUnwrap(answer.booking)
    }

    func cancel(_ started: StartCheckoutResponse) async throws {
        _ = try await rpc.call(PortalMethods.cancelCheckout, CancelCheckoutRequest(holdToken: started.holdToken))
    }

    func myBookings() async throws -> [PortalMessages.Booking] {
        try await rpc.call(PortalMethods.listMyBookings, ListMyBookingsRequest(fromDate: "", toDate: "")).bookings
    }
}

/// Asserts that `body` fails with this status code and reason.
func assertRPCError<T>(
    _ code: StatusCode, _ reason: String, field: String? = nil, file: StaticString = #filePath,
    line: UInt = #line, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        XCTFail("expected \(code.name) \(reason), but the call succeeded", file: file, line: line)
    } catch let error as RPCError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        XCTAssertEqual(error.reason.rawValue, reason, "\(error)", file: file, line: line)
        if let field { XCTAssertEqual(error.details["field"], field, "\(error)", file: file, line: line) }
    } catch {
        XCTFail("expected RPCError \(reason), got \(error)", file: file, line: line)
    }
}

/// `XCTAssertEqual` for values that need `await` (XCTest's autoclosures are synchronous).
func assertEqual<T: Equatable>(
    _ actual: @autoclosure () async throws -> T, _ expected: @autoclosure () async throws -> T,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) async {
    do {
        let (a, b) = (try await actual(), try await expected())
        XCTAssertEqual(a, b, message, file: file, line: line)
    } catch {
        XCTFail("threw \(error)", file: file, line: line)
    }
}

/// `XCTAssertTrue` for values that need `await`.
func assertTrue(
    _ condition: @autoclosure () async throws -> Bool, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) async {
    do {
        let value = try await condition()
        XCTAssertTrue(value, message, file: file, line: line)
    } catch {
        XCTFail("threw \(error)", file: file, line: line)
    }
}
