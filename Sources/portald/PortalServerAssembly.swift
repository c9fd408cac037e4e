import Logging
import PortalServer

/// Puts the server together: the router with every handler, and the server.
///
/// This is where a capability plugs in: the domain's handlers are registered
/// on the router here (`PortalAPI.register(on: &router, …)` once it exists);
/// until then every method but `portal.v1.Health/Check` answers UNIMPLEMENTED
/// with reason NOT_IMPLEMENTED.
enum PortalServerAssembly {
    /// The router: the whole contract, Health, and the handlers that exist.
    static func makeRouter(configuration: PortaldConfiguration, adminKeys: [String]) -> Router {
        let router = Router.portalContract()
        // Domain handlers (PortalAPI) register here; they receive the database
        // path, time zone, hold minutes, admin keys and Stripe settings.
        return router
    }

    /// The RPC server for `configuration`.
    static func makeServer(configuration: PortaldConfiguration, adminKeys: [String], logger: Logger) -> RPCServer {
        RPCServer(
            configuration: configuration.server,
            router: makeRouter(configuration: configuration, adminKeys: adminKeys),
            logger: logger)
    }
}
