import Foundation
import PortalClient
import PortalMessages
import PortalWire
import XCTest

/// The capacity invariant over the wire: many clients, each with its own
/// portal session and connection, race for a few slots through the real
/// server, and exactly as many get them — and pay for them — as there are.
final class CheckoutInvariantTests: XCTestCase {
    func testTwoHundredClientsRaceForFiveSlotsAndExactlyFiveAreBookedAndCaptured() async throws {
        try await CheckoutTestServer.with { server in
            let blockID = try await server.seedMorningRun(capacity: 5)

            // 200 clients, each logged in for real on a connection of its own.
            let sessions = try await withThrowingTaskGroup(of: PortalSession.self) { group in
                var sessions: [PortalSession] = []
                for index in 0..<200 {
                    if index >= 8, let done = try await group.next() { sessions.append(done) }
                    group.addTask { try await server.signUp("Racer \(index)") }
                }
                for try await done in group { sessions.append(done) }
                return sessions
            }
            XCTAssertEqual(Set(sessions.map(\.token)).count, 200)
            // Every connection is open before the race starts.
            for session in sessions { _ = try await session.myBookings() }

            let outcomes = await withTaskGroup(of: (PortalSession, Result<StartCheckoutResponse, RPCError>).self) { group in
                for session in sessions {
                    group.addTask {
                        do {
                            return (session, .success(try await session.startCheckout(block: blockID)))
                        } catch let error as RPCError {
                            return (session, .failure(error))
                        } catch {
                            return (session, .failure(RPCError(code: .unknown, reason: "TEST", message: "\(error)")))
                        }
                    }
                }
                var all: [(PortalSession, Result<StartCheckoutResponse, RPCError>)] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            let winners = outcomes.compactMap { session, result in (try? result.get()).map { (session, $0) } }
            let refusals = outcomes.compactMap { _, result -> RPCError? in
                if case .failure(let error) = result { return error } else { return nil }
            }
            XCTAssertEqual(winners.count, 5)
            XCTAssertEqual(refusals.count, 195)
            XCTAssertEqual(Set(refusals.map(\.reason.rawValue)), ["CAPACITY_FULL"], "\(refusals.prefix(3))")
            XCTAssertEqual(Set(winners.map(\.1.paymentIntentId)).count, 5)
            var usage = try await server.walkUsage()
            XCTAssertEqual([usage.held, usage.remaining], [5, 0])
            XCTAssertEqual(try server.count("SELECT count(*) FROM holds WHERE state = 'active'"), 5)

            // All five pay and finalize at once.
            let bookings = try await withThrowingTaskGroup(of: PortalMessages.Booking.self) { group in
                for (session, started) in winners {
                    group.addTask {
                        try await server.stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
                        return try await session.finalize(started)
                    }
                }
                var all: [PortalMessages.Booking] = []
                for try await booking in group { all.append(booking) }
                return all
            }
            XCTAssertEqual(Set(bookings.map(\.bookingId)).count, 5)
            await assertEqual(try await server.adminBookings().count, 5)
            for (_, started) in winners {
                await assertEqual(try await server.paymentIntent(started.paymentIntentId).status, .succeeded)
            }
            try await server.store.captureRecordsWritten()  // FinalizeCheckout records it in the background
            XCTAssertEqual(try server.count("SELECT count(*) FROM outbox WHERE kind = 'capture' AND done_at IS NOT NULL"), 5)
            XCTAssertEqual(try server.count("SELECT count(*) FROM outbox"), 5)
            XCTAssertEqual(try server.count("SELECT count(*) FROM audit_log WHERE event = 'payment.captured'"), 5)
            XCTAssertEqual(try server.count("SELECT count(*) FROM bookings WHERE payment_state = 'captured'"), 5)

            usage = try await server.walkUsage()
            XCTAssertEqual([usage.capacity, usage.booked, usage.held, usage.remaining], [5, 5, 0, 0])
        }
    }
}
