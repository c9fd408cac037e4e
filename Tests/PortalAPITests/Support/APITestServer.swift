import Foundation
import Logging
import PortalAPI
import PortalClient
import PortalDomain
import PortalMessages
import PortalServer
import PortalStore
import PortalWire
import ServiceLifecycle

/// The real service for end-to-end tests: `PortalAPI` over a `PortalStore` on
/// a fresh SQLite file, served by `RPCServer` on 127.0.0.1 port 0, with a
/// manual clock, and a `PortalClient` connected to it with the admin key.
final class APITestServer: Sendable {
    static let adminKey = "test-admin-key-0123456789abcdef"

    let store: PortalStore
    /// Portal logins and sessions over `store`.
    let accounts: PortalAccounts
    let clock: ManualWallClock
    let port: Int
    /// The SQLite file under `store`, for tests that count rows.
    let databasePath: String
    /// A client whose calls carry the admin key.
    let admin: PortalClient

    private init(
        store: PortalStore, accounts: PortalAccounts, clock: ManualWallClock, port: Int, databasePath: String
    ) {
        self.store = store
        self.databasePath = databasePath
        self.accounts = accounts
        self.clock = clock
        self.port = port
        var configuration = PortalClient.Configuration.defaults
        configuration.authorization = .bearer(Self.adminKey)
        configuration.defaultTimeout = .seconds(10)
        self.admin = PortalClient(host: "127.0.0.1", port: port, configuration: configuration)
    }

    /// A client with no default credentials.
    func anonymousClient() -> PortalClient {
        PortalClient(host: "127.0.0.1", port: port)
    }

    /// Runs `body` against a fresh service whose clock starts at `now`
    /// (2025-10-01 08:00 in London by default), then shuts everything down.
    static func with(
        now: Instant = Instant(unixSeconds: 1_759_302_000),
        sessionVerifier: Authenticator.SessionVerifier? = nil,
        accounts accountsConfiguration: PortalAccounts.Configuration = .init(),
        _ body: (APITestServer) async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("portal-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        var logger = Logger(label: "test.api")
        logger.logLevel = .critical
        let clock = ManualWallClock(now: now)
        let databasePath = folder.appendingPathComponent("portal.sqlite").path
        let store = try await PortalStore.open(
            configuration: .init(path: databasePath),
            calendar: try BusinessCalendar(timeZoneIdentifier: "Europe/London"),
            clock: clock, logger: logger)

        let accounts = try PortalAccounts(store: store, configuration: accountsConfiguration)
        var router = Router.portalContract()
        let metrics = CallMetrics(methods: router.knownMethods)
        PortalAPI(
            store: store,
            authenticator: sessionVerifier.map { Authenticator(adminKeys: [adminKey], sessionVerifier: $0) }
                ?? Authenticator(adminKeys: [adminKey], accounts: accounts),
            accounts: accounts, metrics: metrics
        ).register(on: &router)
        var configuration = ServerConfiguration.defaults
        configuration.port = 0
        let server = RPCServer(configuration: configuration, router: router, metrics: metrics, logger: logger)
        let group = ServiceGroup(services: [server], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.boundAddress.port!
            let running = APITestServer(
                store: store, accounts: accounts, clock: clock, port: port, databasePath: databasePath)
            var failure: (any Error)?
            do { try await body(running) } catch { failure = error }
            await running.admin.close()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            await store.close()
            if let failure { throw failure }
        }
    }
}

/// Runs `body` and returns the `RPCError` it throws; fails the test if it succeeds.
func expectRPCError<T>(
    _ body: () async throws -> T, file: StaticString = #filePath, line: UInt = #line
) async -> RPCError? {
    do {
        _ = try await body()
        XCTFail("expected an RPCError, the call succeeded", file: file, line: line)
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        XCTFail("expected an RPCError, got \(error)", file: file, line: line)
        return nil
    }
}

import XCTest
