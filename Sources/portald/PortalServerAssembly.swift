import Foundation
import Logging
import PortalAPI
import PortalDomain
import PortalServer
import PortalStore
import ServiceLifecycle

/// Puts the service together: the store, the router with every handler, the
/// server and the background work, as the services of one `ServiceGroup`.
enum PortalServerAssembly {
    /// Opens the database (creating and migrating it) and builds the services.
    static func makeServices(
        configuration: PortaldConfiguration, adminKeys: [String], logger: Logger
    ) async throws -> (server: RPCServer, services: [any Service], store: PortalStore) {
        let calendar = try BusinessCalendar(timeZoneIdentifier: configuration.timeZone)
        let folder = URL(fileURLWithPath: configuration.databasePath).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try await PortalStore.open(
            configuration: .init(
                path: configuration.databasePath,
                holdLifetimeSeconds: Int64(configuration.holdMinutes) * 60),
            calendar: calendar, logger: Logger(label: "portal.store"))

        let accounts = try PortalAccounts(store: store)
        var router = Router.portalContract()
        PortalAPI(
            store: store, authenticator: Authenticator(adminKeys: adminKeys, accounts: accounts),
            accounts: accounts
        ).register(on: &router)
        let server = RPCServer(configuration: configuration.server, router: router, logger: logger)
        let purger = ExpiredHoldPurger(store: store, logger: Logger(label: "portal.holds"))
        return (server, [server, purger], store)
    }
}
