import NIOCore
import PortalMessages
import PortalWire
import XCTest

/// Graceful shutdown as a connected client sees it.
final class DrainEndToEndTests: XCTestCase {
    func testDrainSendsGoAwayFinishesInFlightRefusesNewWorkThenCloses() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            try await client.send(.test(TestMethods.slow, id: 1, milliseconds: 700))
            // Let it start running.
            while server.runs.count("slow") == 0 { try await Task.sleep(nanoseconds: 5_000_000) }

            await server.group.triggerGracefulShutdown()

            let goAway = try await client.nextResponse()
            XCTAssertEqual(goAway.id, 0)
            XCTAssertEqual(goAway.code, .unavailable)
            XCTAssertEqual(goAway.reason, "GOAWAY")

            // New work is refused without running: safe to retry elsewhere.
            let refused = try await client.call(.test(TestMethods.slow, id: 2, milliseconds: 0))
            XCTAssertEqual(refused.id, 2)
            XCTAssertEqual(refused.code, .unavailable)
            XCTAssertEqual(refused.reason, "SHUTTING_DOWN")
            XCTAssertEqual(server.runs.count("slow"), 1)

            // Health still answers, NOT_SERVING.
            let health = try await client.call(.health(id: 3))
            XCTAssertEqual(health.code, .ok)
            XCTAssertEqual(try HealthCheckResponse(serializedBytes: health.payload).status, .notServing)

            // New connections are refused: the listening socket closed before the go-away went out.
            do {
                _ = try await server.connect()
                XCTFail("a connection made after the go-away was accepted")
            } catch {}

            // The request in flight finishes, then the server closes the connection.
            let finished = try await client.nextResponse(timeout: .seconds(3))
            XCTAssertEqual(finished.id, 1)
            XCTAssertEqual(finished.code, .ok)
            try await client.expectClosed()
        }
    }

    func testGracePeriodCancelsRequestsThatRunTooLong() async throws {
        try await TestServer.with(configure: { $0.timeouts.drainGracePeriod = .milliseconds(200) }) { server in
            let client = try await server.connect()
            try await client.send(.test(TestMethods.slow, id: 1, milliseconds: 10_000))
            while server.runs.count("slow") == 0 { try await Task.sleep(nanoseconds: 5_000_000) }
            let started = ContinuousClock.now
            await server.group.triggerGracefulShutdown()
            let goAway = try await client.nextResponse()
            XCTAssertEqual(goAway.reason, "GOAWAY")
            // Cancelled at the end of the grace period; the answer (if any) says CANCELLED.
            if case .frame(let response) = try await client.next(timeout: .seconds(3)) {
                XCTAssertEqual(response.id, 1)
                XCTAssertEqual(response.code, .cancelled)
                try await client.expectClosed()
            }
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
        }
    }

    /// With nothing in flight the drain ends at once — but only after the
    /// go-away: every idle connection gets it before it is closed.
    func testIdleConnectionsGetTheGoAwayBeforeTheyAreClosed() async throws {
        try await TestServer.with { server in
            var clients: [RawTestClient] = []
            for _ in 0..<4 { clients.append(try await server.connect()) }
            _ = try await clients[0].call(.health(id: 1))
            await server.group.triggerGracefulShutdown()
            for client in clients {
                let goAway = try await client.nextResponse(timeout: .seconds(3))
                XCTAssertEqual(goAway.id, 0)
                XCTAssertEqual(goAway.reason, "GOAWAY")
                try await client.expectClosed()
            }
        }
    }

    func testCallsStillWaitingForTheirTurnWhenTheGracePeriodEndsAreAnsweredShuttingDown() async throws {
        try await TestServer.with(configure: {
            $0.timeouts.drainGracePeriod = .milliseconds(300)
            $0.limits.maxRunningCalls = 1
        }) { server in
            let client = try await server.connect()
            for id in UInt64(1)...3 { try await client.send(.test(TestMethods.slow, id: id, milliseconds: 10_000)) }
            while server.runs.count("slow") == 0 { try await Task.sleep(nanoseconds: 5_000_000) }
            try await Task.sleep(nanoseconds: 50_000_000)
            await server.group.triggerGracefulShutdown()
            let goAway = try await client.nextResponse()
            XCTAssertEqual(goAway.reason, "GOAWAY")
            var answers: [UInt64: (code: StatusCode, reason: String)] = [:]
            while answers.count < 3, case .frame(let response) = try await client.next(timeout: .seconds(3)) {
                answers[response.id] = (response.code, response.reason)
            }
            XCTAssertEqual(server.runs.count("slow"), 1, "only the first call ever ran")
            XCTAssertEqual(answers[1]?.code, .cancelled, "the running call: may or may not have committed")
            for id in UInt64(2)...3 {
                XCTAssertEqual(answers[id]?.code, .unavailable, "call \(id) never ran")
                XCTAssertEqual(answers[id]?.reason, "SHUTTING_DOWN")
            }
        }
    }
}
