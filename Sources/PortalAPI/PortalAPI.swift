import Logging
import PortalCheckout
import PortalServer
import PortalStore

/// The Portal service's methods over the domain: registers every handler
/// whose capability exists on a ``Router`` built for the whole contract.
///
/// ```swift
/// var router = Router.portalContract()
/// let accounts = try PortalAccounts(store: store)
/// PortalAPI(
///     store: store, authenticator: Authenticator(adminKeys: keys, accounts: accounts),
///     accounts: accounts, checkout: Checkout(store: store, gateway: stripe)
/// ).register(on: &router)
/// ```
public struct PortalAPI: Sendable {
    /// The database behind every method.
    public let store: PortalStore
    /// Checks admin keys and portal sessions.
    public let authenticator: Authenticator
    /// Portal logins and sessions (password hashing, `Login`, `Logout`,
    /// `CreatePortalLogin`); without them those methods stay unimplemented.
    public let accounts: PortalAccounts?
    /// Pre-pay checkout; `nil` when no payment provider is configured (the
    /// checkout methods then answer `PAYMENTS_NOT_CONFIGURED`).
    public let checkout: Checkout?
    /// The server's per-method counters, which `Admin/GetMetrics` answers;
    /// without them that method stays unimplemented.
    public let metrics: CallMetrics?

    /// An API over `store`, guarded by `authenticator`, taking payments
    /// through `checkout`, reporting `metrics`.
    public init(
        store: PortalStore, authenticator: Authenticator, accounts: PortalAccounts? = nil,
        checkout: Checkout? = nil, metrics: CallMetrics? = nil
    ) {
        self.store = store
        self.authenticator = authenticator
        self.accounts = accounts
        self.checkout = checkout
        self.metrics = metrics
    }

    /// Registers the handlers on `router`.
    public func register(on router: inout Router) {
        TimetableAPI(store: store, authenticator: authenticator).register(on: &router)
        ClientsAPI(store: store, accounts: accounts, authenticator: authenticator).register(on: &router)
        PortalSessionAPI(store: store, accounts: accounts, authenticator: authenticator)
            .register(on: &router)
        CheckoutAPI(checkout: checkout, authenticator: authenticator).register(on: &router)
        if let metrics {
            MetricsAPI(metrics: metrics, authenticator: authenticator).register(on: &router)
        }
    }
}
