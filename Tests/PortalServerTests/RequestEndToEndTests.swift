import NIOCore
import PortalMessages
import PortalWire
import XCTest

/// Routing, pipelining, limits and deadlines over real TCP.
final class RequestEndToEndTests: XCTestCase {
    func testUnknownMethodIsUnimplementedAndTheConnectionKeepsWorking() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let response = try await client.call(RequestEnvelope(id: 1, method: "portal.v1.Nope/Nothing"))
            XCTAssertEqual(response.id, 1)
            XCTAssertEqual(response.code, .unimplemented)
            XCTAssertEqual(response.reason, "UNKNOWN_METHOD")
            try await client.assertOK(.health(id: 2))
        }
    }

    func testKnownMethodWithoutHandlerIsNotImplemented() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let response = try await client.call(RequestEnvelope(id: 1, method: "portal.v1.Admin/GetDay"))
            XCTAssertEqual(response.code, .unimplemented)
            XCTAssertEqual(response.reason, "NOT_IMPLEMENTED")
        }
    }

    func testUndecodablePayloadIsInvalidArgumentAndTheConnectionKeepsWorking() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let response = try await client.call(
                RequestEnvelope(id: 1, method: HealthMethods.check.fullName, payload: [0xFF, 0xFF, 0xFF]))
            XCTAssertEqual(response.code, .invalidArgument)
            XCTAssertEqual(response.reason, "MALFORMED_PAYLOAD")
            try await client.assertOK(.health(id: 2))
        }
    }

    func testPayloadWithInvalidUTF8NamesTheField() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            // HealthCheckRequest.service (field 1, string) holding the bytes C3 28.
            let response = try await client.call(
                RequestEnvelope(id: 1, method: HealthMethods.check.fullName, payload: [0x0A, 0x02, 0xC3, 0x28]))
            XCTAssertEqual(response.code, .invalidArgument)
            XCTAssertEqual(response.reason, "MALFORMED_PAYLOAD")
            XCTAssertEqual(response.status?.details["field"], "service")
        }
    }

    func testRequestIdZeroIsInvalidArgument() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let response = try await client.call(.health(id: 0))
            XCTAssertEqual(response.code, .invalidArgument)
            XCTAssertEqual(response.reason, "INVALID_REQUEST_ID")
            try await client.assertOK(.health(id: 1))
        }
    }

    func testHandlerErrorIsAGenericInternalErrorWithoutItsCause() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let response = try await client.call(.test(TestMethods.fail, id: 1))
            XCTAssertEqual(response.code, .internalError)
            XCTAssertEqual(response.status?.message, "Internal server error.")
            XCTAssertFalse(response.status?.message.contains("secret") ?? true)
        }
    }

    func testThousandPipelinedRequestsAreAllAnsweredAndMatchedById() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            // Inline and asynchronous methods mixed: answers may come back in any order.
            let requests = (1...1000 as ClosedRange<UInt64>).map { id in
                id % 2 == 0 ? RequestEnvelope.health(id: id) : RequestEnvelope.test(TestMethods.echo, id: id)
            }
            try await client.send(requests)
            var answered: Set<UInt64> = []
            for _ in requests {
                let response = try await client.nextResponse()
                XCTAssertEqual(response.code, .ok, "id \(response.id)")
                XCTAssertTrue(answered.insert(response.id).inserted, "id \(response.id) answered twice")
            }
            XCTAssertEqual(answered, Set(1...1000))
        }
    }

    func testDuplicateInFlightIdIsRefusedWhileTheFirstKeepsRunning() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            try await client.send(.test(TestMethods.slow, id: 5, milliseconds: 300))
            try await client.send(.test(TestMethods.echo, id: 5))
            let refusal = try await client.nextResponse()
            XCTAssertEqual(refusal.id, 5)
            XCTAssertEqual(refusal.code, .invalidArgument)
            XCTAssertEqual(refusal.reason, "DUPLICATE_REQUEST_ID")
            let first = try await client.nextResponse()
            XCTAssertEqual(first.id, 5)
            XCTAssertEqual(first.code, .ok)
            // The id is free again.
            try await client.assertOK(.test(TestMethods.echo, id: 5))
        }
    }

    func testRequestsPastTheInFlightCapAreResourceExhausted() async throws {
        try await TestServer.with(configure: { $0.limits.maxInFlightPerConnection = 2 }) { server in
            let client = try await server.connect()
            try await client.send([
                .test(TestMethods.slow, id: 1, milliseconds: 300),
                .test(TestMethods.slow, id: 2, milliseconds: 300),
                .test(TestMethods.slow, id: 3, milliseconds: 300),
                .health(id: 4),  // inline: never counts against the cap
            ])
            var byId: [UInt64: ResponseEnvelope] = [:]
            for _ in 1...4 {
                let response = try await client.nextResponse()
                byId[response.id] = response
            }
            XCTAssertEqual(byId[3]?.code, .resourceExhausted)
            XCTAssertEqual(byId[3]?.reason, "TOO_MANY_IN_FLIGHT")
            XCTAssertEqual(byId[4]?.code, .ok)
            XCTAssertEqual(byId[1]?.code, .ok)
            XCTAssertEqual(byId[2]?.code, .ok)
            XCTAssertEqual(server.runs.count("slow"), 2)
        }
    }

    func testCallsPastTheRunningLimitWaitTheirTurnAndAreAllAnswered() async throws {
        try await TestServer.with(configure: { $0.limits.maxRunningCalls = 1 }) { server in
            let client = try await server.connect()
            let started = ContinuousClock.now
            try await client.send([
                .test(TestMethods.slow, id: 1, milliseconds: 200),
                .test(TestMethods.slow, id: 2, milliseconds: 200),
                .test(TestMethods.slow, id: 3, milliseconds: 200),
                .health(id: 4),  // inline: never waits for a running call
            ])
            var order: [UInt64] = []
            for _ in 1...4 {
                let response = try await client.nextResponse()
                XCTAssertEqual(response.code, .ok, "request \(response.id)")
                order.append(response.id)
            }
            XCTAssertEqual(order, [4, 1, 2, 3], "one call at a time, in arrival order")
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .milliseconds(600))
            XCTAssertEqual(server.runs.count("slow"), 3)
        }
    }

    func testRequestWhoseDeadlinePassedBeforeItStartsIsNotRun() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            // Both frames arrive in one read; the first blocks the event loop for
            // 100 ms, so the second's 1 ms deadline (counted from receipt) has
            // passed before it can start.
            try await client.send([
                .test(TestMethods.block, id: 1, milliseconds: 100),
                .test(TestMethods.slow, id: 2, milliseconds: 0, timeoutMs: 1),
                .test(TestMethods.block, id: 3, milliseconds: 0, timeoutMs: 1),
            ])
            var byId: [UInt64: ResponseEnvelope] = [:]
            for _ in 1...3 {
                let response = try await client.nextResponse()
                byId[response.id] = response
            }
            XCTAssertEqual(byId[1]?.code, .ok)
            XCTAssertEqual(byId[2]?.code, .deadlineExceeded)
            XCTAssertEqual(byId[2]?.reason, "DEADLINE_EXCEEDED")
            XCTAssertEqual(byId[3]?.code, .deadlineExceeded)
            XCTAssertEqual(server.runs.count("slow"), 0, "a request past its deadline must not run")
            XCTAssertEqual(server.runs.count("block"), 1)
        }
    }

    func testRunningHandlerIsCancelledAtItsDeadline() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let started = ContinuousClock.now
            let response = try await client.call(.test(TestMethods.slow, id: 1, milliseconds: 5_000, timeoutMs: 100))
            XCTAssertEqual(response.code, .deadlineExceeded)
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
            try await client.assertOK(.health(id: 2))
        }
    }

    func testARefusalThatComesAfterTheDeadlineIsAnsweredDeadlineExceeded() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            // The handler cannot be interrupted: it refuses 300 ms later,
            // long after its 20 ms deadline (docs/protocol.md §6).
            let late = try await client.call(
                .test(TestMethods.stubbornRefusal, id: 1, milliseconds: 300, timeoutMs: 20))
            XCTAssertEqual(late.code, .deadlineExceeded)
            XCTAssertEqual(late.reason, "DEADLINE_EXCEEDED")
            // Within its deadline, the same refusal is answered as it is.
            let inTime = try await client.call(
                .test(TestMethods.stubbornRefusal, id: 2, milliseconds: 0, timeoutMs: 5_000))
            XCTAssertEqual(inTime.code, .failedPrecondition)
            XCTAssertEqual(inTime.reason, "TOO_LATE_TO_MATTER")
            XCTAssertEqual(server.runs.count("stubbornRefusal"), 2)
        }
    }

    func testCallsOverTheRunningLimitWaitTheirTurnAndAreAllAnswered() async throws {
        try await TestServer.with(configure: { $0.limits.maxRunningCalls = 2 }) { server in
            let client = try await server.connect()
            try await client.send((1...5).map { .test(TestMethods.slow, id: UInt64($0), milliseconds: 400) })
            while server.runs.count("slow") < 2 { try await Task.sleep(nanoseconds: 5_000_000) }
            // The first two run for 400 ms; nothing else may start meanwhile.
            try await Task.sleep(nanoseconds: 200_000_000)
            XCTAssertEqual(server.runs.count("slow"), 2)
            var answered: Set<UInt64> = []
            for _ in 1...5 {
                let response = try await client.nextResponse(timeout: .seconds(10))
                XCTAssertEqual(response.code, .ok)
                answered.insert(response.id)
            }
            XCTAssertEqual(answered, [1, 2, 3, 4, 5])
            XCTAssertEqual(server.runs.count("slow"), 5)
            try await client.assertOK(.health(id: 6))
        }
    }
}
