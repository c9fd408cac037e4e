import Foundation
import Logging
import PortalAPI
import PortalCheckout
import PortalDomain
import PortalServer
import PortalStore
import PortalStripe
import ServiceLifecycle

/// Puts the service together: the store, the payment provider, the router
/// with every handler, the server and the background work, as the services
/// of one `ServiceGroup`.
enum PortalServerAssembly {
    /// What tests may replace; production uses none of it.
    struct Overrides: Sendable {
        /// "Now" for the store (a manual clock in expiry tests).
        var clock: (any WallClock)?
        /// The payment provider, instead of the one `--payments` chooses.
        var gateway: (any PaymentGateway)?
        /// Logins and sessions (cheaper, still real, password hashing for
        /// tests that log hundreds of clients in).
        var accounts: PortalAccounts.Configuration?
        /// Intervals, grace and backoff of the checkout's background work.
        var checkout: Checkout.Configuration?

        init(
            clock: (any WallClock)? = nil, gateway: (any PaymentGateway)? = nil,
            accounts: PortalAccounts.Configuration? = nil, checkout: Checkout.Configuration? = nil
        ) {
            self.clock = clock
            self.gateway = gateway
            self.accounts = accounts
            self.checkout = checkout
        }
    }

    /// The assembled service.
    struct Assembly: Sendable {
        /// The RPC server.
        let server: RPCServer
        /// Every service to run in one group: purger, outbox worker, sweeper, server.
        let services: [any Service]
        /// The open store (close it after the group ends).
        let store: PortalStore
        /// Checkout, when a payment provider is configured.
        let checkout: Checkout?
        /// The sweeper among ``services``, for tests that run a round by hand.
        let sweeper: CheckoutSweeper?
        /// The outbox worker among ``services``.
        let outboxWorker: OutboxWorker?
    }

    /// Opens the database (creating and migrating it) and builds the services.
    static func makeServices(
        configuration: PortaldConfiguration, adminKeys: [String], logger: Logger,
        overrides: Overrides = Overrides()
    ) async throws -> Assembly {
        let calendar = try BusinessCalendar(timeZoneIdentifier: configuration.timeZone)
        try PortaldConfiguration.createDatabaseFolder(for: configuration.databasePath)
        let store = try await PortalStore.open(
            configuration: .init(
                path: configuration.databasePath,
                holdLifetimeSeconds: Int64(configuration.holdMinutes) * 60),
            calendar: calendar, clock: overrides.clock ?? SystemWallClock(),
            logger: Logger(label: "portal.store"))

        let paymentsLogger = Logger(label: "portal.payments")
        var checkoutConfiguration = overrides.checkout ?? .defaults
        if overrides.checkout == nil {
            checkoutConfiguration.holdGraceSeconds = Int64(configuration.holdGraceSeconds)
        }
        if !configuration.faults.isEmpty {
            checkoutConfiguration.faults = configuration.faults
            logger.critical(
                "FAULT INJECTION IS ON: this process will crash on purpose. Tests only.",
                metadata: ["variable": "\(CheckoutFaults.environmentVariable)"])
        }
        let gateway = overrides.gateway ?? makeGateway(configuration: configuration, logger: paymentsLogger)
        let checkout = gateway.map {
            Checkout(
                store: store, gateway: $0, configuration: checkoutConfiguration,
                logger: Logger(label: "portal.checkout"))
        }
        if let checkout {
            logger.info(
                "Checkout ready",
                metadata: [
                    "payments": "\(configuration.payments)", "hold_minutes": "\(configuration.holdMinutes)",
                    "hold_grace_seconds": "\(checkout.configuration.holdGraceSeconds)",
                ])
        } else {
            logger.warning(
                "No payment provider configured: checkout answers PAYMENTS_NOT_CONFIGURED. Give --stripe-api-key (or --payments simulated for a demo).")
        }

        let accounts = try PortalAccounts(store: store, configuration: overrides.accounts ?? .init())
        var router = Router.portalContract()
        let metrics = CallMetrics(methods: router.knownMethods)
        PortalAPI(
            store: store, authenticator: Authenticator(adminKeys: adminKeys, accounts: accounts),
            accounts: accounts, checkout: checkout, metrics: metrics
        ).register(on: &router)
        let server = RPCServer(
            configuration: configuration.server, router: router, metrics: metrics, logger: logger)
        let purger = ExpiredRowPurger(store: store, logger: Logger(label: "portal.purger"))
        // A ServiceGroup shuts its services down in reverse order: the server
        // drains first (its requests may still queue payment calls), then the
        // sweeper, the outbox worker and the purger stop.
        var services: [any Service] = [purger]
        let worker = checkout?.makeOutboxWorker()
        let sweeper = checkout?.makeSweeper()
        if let worker, let sweeper {
            services += [worker, sweeper]
        }
        services.append(server)
        return Assembly(
            server: server, services: services, store: store, checkout: checkout, sweeper: sweeper,
            outboxWorker: worker)
    }

    /// The provider `--payments` names: Stripe with the configured key and
    /// base URL, the simulated gateway, or none.
    static func makeGateway(configuration: PortaldConfiguration, logger: Logger) -> (any PaymentGateway)? {
        switch configuration.payments {
        case .stripe:
            guard let key = configuration.stripeAPIKey else { return nil }
            logger.info("Payments through Stripe", metadata: ["api_base": "\(configuration.stripeAPIBase)"])
            return StripeClient(
                secretKey: StripeSecretKey(key),
                configuration: .init(baseURL: configuration.stripeAPIBase),
                logger: Logger(label: "portal.stripe"))
        case .simulated:
            if configuration.stripeAPIKey != nil {
                logger.warning("--payments simulated: the configured Stripe key is NOT used.")
            }
            return SimulatedPaymentGateway(logger: logger)
        case .disabled:
            return nil
        }
    }
}
