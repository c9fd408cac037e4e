import ArgumentParser
import Foundation
import Logging
import PortalClient
import PortalMessages
import PortalStripe
import PortalWire

import struct PortalDomain.LocalDate

// MARK: - demo

/// `portalctl demo`: the seed's usage example end to end against a running
/// server (`make run` starts one with localstripe beside it), printing each
/// step: service defaults, the timetable, a client with a portal login who
/// logs in, lists the blocks, starts a checkout, pays as the browser would
/// (through localstripe), finalizes, and sees the booking.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk the seed's example end to end: timetable, login, checkout, payment, booking.",
        discussion: """
            Needs a running server with payments (make run: Stripe is a localstripe on 127.0.0.1:8420; \
            or portald --payments simulated, where the payment step is skipped). The seed's example is \
            dated 2025-10-08, a day that has passed, so the timetable goes on --date (default: tomorrow \
            in Europe/London); a block that has started cannot be booked. Safe to run again: services \
            walk and daycare are created only when missing (existing prices are kept), an existing \
            timetable on that date is reused, and each run makes a new client.
            """)

    @Option(help: "The date of the timetable, YYYY-MM-DD (default: tomorrow).", transform: LocalDate.parse)
    var date: LocalDate?

    @Option(help: "The Stripe-compatible server the browser pays through (localstripe).")
    var stripeAPIBase: String = "http://127.0.0.1:8420"

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let day = (date ?? Self.tomorrow()).description
        try await global.withClient { admin, _ in
            var step = 0
            func say(_ title: String) {
                step += 1
                print("\n== \(step). \(title)")
            }

            say("Service defaults")
            let walk = ServiceDefaults(
                serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp", notes: "Group walk")
            let daycare = ServiceDefaults(
                serviceCode: "daycare", durationMinutes: 480, priceCents: 4500, currency: "gbp", notes: "Full day")
            // Staff's own prices stay: only a missing service is created.
            let existing = try await admin.call(AdminMethods.listServices, ListServicesRequest()).services
            for service in [walk, daycare] where !existing.contains(where: { $0.serviceCode == service.serviceCode }) {
                _ = try await admin.call(AdminMethods.upsertService, UpsertServiceRequest(service: service))
            }
            let services = try await admin.call(AdminMethods.listServices, ListServicesRequest()).services
            print(Rendering.services(services.filter { ["walk", "daycare"].contains($0.serviceCode) }))

            say("The timetable of \(day)")
            var timetable = try await admin.call(AdminMethods.getDay, GetDayRequest(date: day))
            if timetable.blocks.isEmpty {
                let morning = try await admin.call(
                    AdminMethods.createBlock,
                    CreateBlockRequest(date: day, startTime: "09:00", endTime: "12:00", label: "Morning Run"))
                let afternoon = try await admin.call(
                    AdminMethods.createBlock,
                    CreateBlockRequest(date: day, startTime: "13:00", endTime: "16:00", label: "Afternoon"))
                for (block, service, capacity) in [
                    (morning.block, "walk", Int32(5)), (afternoon.block, "walk", 3), (afternoon.block, "daycare", 2),
                ] {
                    _ = try await admin.call(
                        AdminMethods.setCapacity,
                        SetCapacityRequest(
                            blockId: block?.blockId ?? 0, serviceCode: service, capacity: capacity, allowOverlap: false))
                }
                timetable = try await admin.call(AdminMethods.getDay, GetDayRequest(date: day))
            } else {
                print("(\(day) already has blocks; using them)")
            }
            print(Rendering.day(date: day, blocks: timetable.blocks))

            say("A client with a portal login")
            let created = try await admin.call(
                AdminMethods.createClient,
                CreateClientRequest(name: "Demo Client", email: "demo@example.com", phone: "", canSelfReschedule: false))
            let clientID = created.client?.clientId ?? 0
            let username = "demo-\(clientID)"
            let password = "demo-password-\(UInt32.random(in: 0...UInt32.max))"
            _ = try await admin.call(
                AdminMethods.createPortalLogin,
                CreatePortalLoginRequest(clientId: clientID, username: username, password: password))
            print("Client #\(clientID), portal username \(username)")

            say("The client logs in (Portal/Login)")
            let login = try await admin.call(
                PortalMethods.login, LoginRequest(username: username, password: password), credentials: .anonymous)
            let session = Credentials.bearer(login.sessionToken)
            print("Session for client #\(login.clientId), valid until \(Self.instant(login.expiresAt)) (token not shown)")

            say("Blocks offering walk on \(day) (Portal/ListBlocks)")
            let blocks = try await admin.call(
                PortalMethods.listBlocks, ListBlocksRequest(date: day, serviceCode: "walk"), credentials: session)
            for entry in blocks.blocks {
                let block = entry.block ?? TimetableBlock()
                print(
                    "  #\(block.blockId) \(block.startTime)-\(block.endTime) \(block.label): "
                        + "\(entry.remaining) left, \(Rendering.money(entry.priceCents, currency: entry.currency))")
            }
            guard let chosen = blocks.blocks.first(where: { $0.remaining > 0 }), let block = chosen.block else {
                throw UsageFailure("no walk slot is left on \(day); try another --date")
            }

            say("Checkout for \(block.label) (Portal/StartCheckout)")
            let started = try await admin.call(
                PortalMethods.startCheckout,
                StartCheckoutRequest(serviceCode: "walk", blockId: block.blockId, expectedPriceCents: chosen.priceCents),
                credentials: session)
            print(
                "Hold taken until \(Self.instant(started.expiresAt)); PaymentIntent \(started.paymentIntentId) for "
                    + Rendering.money(started.amountCents, currency: started.currency)
                    + " (client secret handed to the browser, not shown)")

            say("The browser pays (what Stripe.js would do)")
            if started.paymentIntentId.hasPrefix("pi_sim_") {
                print("Simulated payments: the PaymentIntent is approved already; nothing to pay.")
            } else {
                let status = try await Self.payAsBrowser(started.paymentIntentId, stripeAPIBase: stripeAPIBase)
                print("Card 4242 4242 4242 4242 confirmed at \(stripeAPIBase): PaymentIntent is \(status)")
            }

            say("Finalize (Portal/FinalizeCheckout)")
            let finalized = try await admin.call(
                PortalMethods.finalizeCheckout,
                FinalizeCheckoutRequest(holdToken: started.holdToken, paymentIntentId: started.paymentIntentId),
                credentials: session)
            if let booking = finalized.booking {
                print(
                    "Booking #\(booking.bookingId): \(booking.date) \(booking.startTime)-\(booking.endTime) "
                        + "\(booking.blockLabel), \(Rendering.money(booking.amountCents, currency: booking.currency)), "
                        + "payment \(Rendering.paymentState(booking.paymentState))")
            }

            say("The client's bookings (Portal/ListMyBookings)")
            let mine = try await admin.call(
                PortalMethods.listMyBookings, ListMyBookingsRequest(fromDate: day, toDate: day), credentials: session)
            print(Rendering.bookings(date: day, mine.bookings))

            say("Staff view: bookings and the day (Admin/ListBookings, Admin/GetDay)")
            let all = try await admin.call(AdminMethods.listBookings, ListBookingsRequest(date: day))
            print(Rendering.bookings(date: day, all.bookings))
            let after = try await admin.call(AdminMethods.getDay, GetDayRequest(date: day))
            print(Rendering.day(date: day, blocks: after.blocks))
        }
    }

    /// Attaches a test card and confirms, as the browser does with Stripe.js
    /// (here with a test key against localstripe). Returns the new status.
    static func payAsBrowser(_ paymentIntentID: String, stripeAPIBase: String) async throws -> String {
        guard !stripeAPIBase.contains("api.stripe.com") else {
            throw UsageFailure("the demo pays through localstripe; with real Stripe the browser pays with Stripe.js")
        }
        let browser = StripeClient(
            secretKey: StripeSecretKey("sk_test_portal_demo_browser"),
            configuration: .init(baseURL: stripeAPIBase, retry: .none, maxConcurrentRequests: 1),
            logger: Logger(label: "portalctl.browser", factory: { _ in SwiftLogNoOpLogHandler() }))
        var card = StripeForm()
        card.append("type", "card")
        card.append("card[number]", "4242424242424242")
        card.append("card[exp_month]", "12")
        card.append("card[exp_year]", "2040")
        card.append("card[cvc]", "123")
        let method = try browser.decode(
            Identified.self,
            from: try await browser.send(.post, path: "/v1/payment_methods", form: card, idempotencyKey: oneOffKey()))
        var attach = StripeForm()
        attach.append("payment_method", method.id)
        _ = try await browser.send(
            .post, path: "/v1/payment_intents/\(paymentIntentID)", form: attach, idempotencyKey: oneOffKey())
        let confirmed = try browser.decodePaymentIntent(
            try await browser.send(
                .post, path: "/v1/payment_intents/\(paymentIntentID)/confirm", form: StripeForm(),
                idempotencyKey: oneOffKey()))
        return confirmed.status.rawValue
    }

    private struct Identified: Decodable {
        var id: String
    }

    private static func oneOffKey() -> String { "portalctl-demo-" + UUID().uuidString }

    /// Tomorrow in Europe/London, the default business zone.
    static func tomorrow() -> LocalDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/London") ?? .current
        let next = calendar.date(byAdding: .day, value: 1, to: Date()) ?? Date()
        let parts = calendar.dateComponents([.year, .month, .day], from: next)
        return LocalDate(year: parts.year ?? 2000, month: parts.month ?? 1, day: parts.day ?? 1)!
    }

    /// Unix seconds as an ISO 8601 UTC time.
    static func instant(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
