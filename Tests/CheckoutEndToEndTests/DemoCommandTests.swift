import PortalMessages
import XCTest

@testable import portalctl

/// `portalctl demo` (what `make demo` runs) against the real server and
/// localstripe, on the seed's own date: the server's clock stands a week
/// before 2025-10-08.
final class DemoCommandTests: XCTestCase {
    func testTheDemoWalksTheSeedsExampleAndBooksOneWalk() async throws {
        try await CheckoutTestServer.with { server in
            let demo = try DemoCommand.parse([
                "--server", "127.0.0.1:\(server.port)", "--admin-key", CheckoutTestServer.adminKey,
                "--stripe-api-base", server.stripe.baseURL, "--date", CheckoutTestServer.date, "--timeout", "30",
            ])
            try await demo.run()

            let bookings = try await server.adminBookings()
            XCTAssertEqual(bookings.count, 1)
            XCTAssertEqual(bookings.first?.blockLabel, "Morning Run")
            XCTAssertEqual(bookings.first?.paymentState, .captured)
            let day = try await server.admin.call(AdminMethods.getDay, GetDayRequest(date: CheckoutTestServer.date))
            XCTAssertEqual(
                day.blocks.map { $0.capacities.map { "\($0.serviceCode) \($0.remaining)" } },
                [["walk 4"], ["daycare 2", "walk 3"]])

            // Staff change the walk's price; the demo must not put its own back.
            let staffWalk = ServiceDefaults(
                serviceCode: "walk", durationMinutes: 45, priceCents: 2000, currency: "gbp", notes: "Staff price")
            _ = try await server.admin.call(AdminMethods.upsertService, UpsertServiceRequest(service: staffWalk))

            // Run again: the timetable and the services are reused, a second client books.
            let again = demo
            try await again.run()
            let after = try await server.adminBookings()
            XCTAssertEqual(after.count, 2)
            XCTAssertEqual(after.map(\.amountCents).sorted(), [1500, 2000])
            let services = try await server.admin.call(AdminMethods.listServices, ListServicesRequest()).services
            XCTAssertEqual(services.first { $0.serviceCode == "walk" }, staffWalk)
        }
    }
}
