import NIOCore
import PortalMessages
import PortalWire
import XCTest

/// Idle and frame timeouts and the connection cap over real TCP.
final class ConnectionEndToEndTests: XCTestCase {
    func testIdleConnectionGetsIdleTimeoutFrameThenCloses() async throws {
        try await TestServer.with(configure: { $0.timeouts.idleTimeout = .milliseconds(200) }) { server in
            let client = try await server.connect()
            try await client.assertOK(.health(id: 1))
            let frame = try await client.nextResponse(timeout: .seconds(3))
            XCTAssertEqual(frame.id, 0)
            XCTAssertEqual(frame.reason, "IDLE_TIMEOUT")
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }

    func testConnectionWithARequestInFlightIsNotIdle() async throws {
        try await TestServer.with(configure: { $0.timeouts.idleTimeout = .milliseconds(200) }) { server in
            let client = try await server.connect()
            let response = try await client.call(.test(TestMethods.slow, id: 1, milliseconds: 600))
            XCTAssertEqual(response.code, .ok)
        }
    }

    func testPartialFrameThenSilenceGetsFrameTimeoutThenCloses() async throws {
        try await TestServer.with(configure: { $0.timeouts.frameTimeout = .milliseconds(200) }) { server in
            let client = try await server.connect()
            try await client.send(bytes: [0, 0, 0, 50, 1, 2])
            let frame = try await client.nextResponse(timeout: .seconds(3))
            XCTAssertEqual(frame.id, 0)
            XCTAssertEqual(frame.code, .deadlineExceeded)
            XCTAssertEqual(frame.reason, "FRAME_TIMEOUT")
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }

    func testConnectionOverTheCapIsRefusedWithAFrameAndClosed() async throws {
        try await TestServer.with(configure: { $0.limits.maxConnections = 2 }) { server in
            let first = try await server.connect()
            let second = try await server.connect()
            try await first.assertOK(.health(id: 1))
            try await second.assertOK(.health(id: 1))

            let third = try await server.connect()
            let refusal = try await third.nextResponse()
            XCTAssertEqual(refusal.id, 0)
            XCTAssertEqual(refusal.code, .resourceExhausted)
            XCTAssertEqual(refusal.reason, "TOO_MANY_CONNECTIONS")
            try await third.expectClosed()

            // The admitted connections keep being served.
            try await first.assertOK(.health(id: 2))

            // Once one closes, a new connection gets in.
            await first.close()
            var admitted = false
            for _ in 0..<50 where !admitted {
                let next = try await server.connect()
                try await next.send(.health(id: 1))
                if case .frame(let response) = try await next.next(), response.id == 1 {
                    admitted = true
                }
                await next.close()
                if !admitted { try await Task.sleep(nanoseconds: 20_000_000) }
            }
            XCTAssertTrue(admitted)
        }
    }
}
