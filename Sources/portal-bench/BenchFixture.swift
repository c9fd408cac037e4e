import PortalClient
import PortalMessages
import PortalWire

/// What the `list-blocks` (and checkout) scenarios run against: one day of
/// 10 blocks x 3 services, a client with a portal login, and its session.
struct BenchFixture: Sendable {
    /// The seeded day, `YYYY-MM-DD`.
    var date: String
    /// The services offered in every block.
    var services: [String]
    /// The day's blocks.
    var blockIDs: [Int64]
    /// Sessions of the bench clients (one per client; scenarios spread over them).
    var sessionTokens: [String]
    /// Bookings and live holds present when the run starts.
    var bookings: Int
    var holds: Int
}

/// Seeds the fixture through the admin and portal APIs, as staff and a
/// client would: services, blocks, capacities, clients with logins, a few
/// bookings and live holds (where the server offers checkout).
enum BenchSeeder {
    static let services: [(code: String, minutes: Int32, price: Int64, capacity: Int32)] = [
        ("walk", 60, 1_500, 10_000), ("daycare", 480, 4_000, 10_000), ("training", 45, 3_000, 10_000),
    ]

    static func seed(
        host: String, port: Int, adminKey: String, date: String, clients clientCount: Int,
        bookings bookingCount: Int, holds holdCount: Int
    ) async throws -> BenchFixture {
        var configuration = PortalClient.Configuration.defaults
        configuration.defaultTimeout = .seconds(30)
        let client = PortalClient(host: host, port: port, configuration: configuration)
        do {
            let fixture = try await seed(
                client, admin: .bearer(adminKey), date: date, clients: clientCount,
                bookings: bookingCount, holds: holdCount)
            await client.close()
            return fixture
        } catch {
            await client.close()
            throw error
        }
    }

    private static func seed(
        _ client: PortalClient, admin: Credentials, date: String, clients clientCount: Int,
        bookings bookingCount: Int, holds holdCount: Int
    ) async throws -> BenchFixture {
        for service in services {
            _ = try await client.call(
                AdminMethods.upsertService,
                UpsertServiceRequest(
                    service: ServiceDefaults(
                        serviceCode: service.code, durationMinutes: service.minutes,
                        priceCents: service.price, currency: "gbp", notes: "portal-bench")),
                credentials: admin)
        }
        // Reuse the day when an earlier run already seeded it.
        var day = try await client.call(AdminMethods.getDay, GetDayRequest(date: date), credentials: admin)
        if day.blocks.count < 10 {
            for hour in (7 + day.blocks.count)..<17 {
                let created = try await client.call(
                    AdminMethods.createBlock,
                    CreateBlockRequest(
                        date: date, startTime: clock(hour), endTime: clock(hour + 1),
                        label: "Bench block \(clock(hour))"),
                    credentials: admin)
                for service in services {
                    _ = try await client.call(
                        AdminMethods.setCapacity,
                        SetCapacityRequest(
                            blockId: created.block?.blockId ?? 0, serviceCode: service.code,
                            capacity: service.capacity, allowOverlap: true),
                        credentials: admin)
                }
            }
            day = try await client.call(AdminMethods.getDay, GetDayRequest(date: date), credentials: admin)
        }
        let blockIDs = day.blocks.compactMap { $0.block?.blockId }

        var tokens: [String] = []
        let suffix = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
        for index in 0..<max(1, clientCount) {
            let created = try await client.call(
                AdminMethods.createClient,
                CreateClientRequest(name: "Bench client \(index)", email: "", phone: "", canSelfReschedule: false),
                credentials: admin)
            let username = "bench-\(suffix)-\(index)"
            let password = "bench-password-\(suffix)"
            _ = try await client.call(
                AdminMethods.createPortalLogin,
                CreatePortalLoginRequest(
                    clientId: created.client?.clientId ?? 0, username: username, password: password),
                credentials: admin)
            let session = try await client.call(
                PortalMethods.login, LoginRequest(username: username, password: password),
                credentials: .anonymous)
            tokens.append(session.sessionToken)
        }

        var holds = 0
        var bookings = 0
        if holdCount + bookingCount > 0 {
            (holds, bookings) = try await seedCheckouts(
                client, sessions: tokens, blocks: blockIDs, holds: holdCount, bookings: bookingCount)
        }
        return BenchFixture(
            date: date, services: services.map(\.code), blockIDs: blockIDs, sessionTokens: tokens,
            bookings: bookings, holds: holds)
    }

    /// Takes holds (StartCheckout) and turns some into bookings
    /// (FinalizeCheckout, which needs `portald --payments simulated`).
    /// Servers without checkout answer UNIMPLEMENTED (or, without a payment
    /// provider, PAYMENTS_NOT_CONFIGURED): the day then has neither, and the
    /// fixture says so.
    private static func seedCheckouts(
        _ client: PortalClient, sessions: [String], blocks: [Int64], holds holdCount: Int,
        bookings bookingCount: Int
    ) async throws -> (holds: Int, bookings: Int) {
        var holds = 0
        var bookings = 0
        for index in 0..<(holdCount + bookingCount) {
            let session = Credentials.bearer(sessions[index % sessions.count])
            let service = services[index % services.count].code
            let block = blocks[index % blocks.count]
            let started: StartCheckoutResponse
            do {
                started = try await client.call(
                    PortalMethods.startCheckout,
                    StartCheckoutRequest(serviceCode: service, blockId: block), credentials: session)
            } catch {
                // A server without checkout (or without a payment provider):
                // the day has no holds or bookings.
                if error.code == .unimplemented || error.reason.rawValue == "PAYMENTS_NOT_CONFIGURED" {
                    return (holds, bookings)
                }
                throw error
            }
            if index < bookingCount {
                do {
                    _ = try await client.call(
                        PortalMethods.finalizeCheckout,
                        FinalizeCheckoutRequest(
                            holdToken: started.holdToken, paymentIntentId: started.paymentIntentId),
                        credentials: session)
                    bookings += 1
                } catch {
                    holds += 1
                }
            } else {
                holds += 1
            }
        }
        return (holds, bookings)
    }

    private static func clock(_ hour: Int) -> String {
        hour < 10 ? "0\(hour):00" : "\(hour):00"
    }
}
