import Logging
import PortalServer
import PortalStore

/// The Portal service's methods over the domain: registers every handler
/// whose capability exists on a ``Router`` built for the whole contract.
///
/// ```swift
/// var router = Router.portalContract()
/// PortalAPI(store: store, authenticator: Authenticator(adminKeys: keys))
///     .register(on: &router)
/// ```
public struct PortalAPI: Sendable {
    /// The database behind every method.
    public let store: PortalStore
    /// Checks admin keys and portal sessions.
    public let authenticator: Authenticator

    /// An API over `store`, guarded by `authenticator`.
    public init(store: PortalStore, authenticator: Authenticator) {
        self.store = store
        self.authenticator = authenticator
    }

    /// Registers the handlers on `router`.
    public func register(on router: inout Router) {
        TimetableAPI(store: store, authenticator: authenticator).register(on: &router)
    }
}
