import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortalClient
import PortalMessages
import PortalWire
import Testing

/// End-to-end behaviour of PortalClient against a scripted server over real
/// TCP on 127.0.0.1.
@Suite("PortalClient over TCP", .timeLimit(.minutes(1)))
struct PortalClientTests {
    /// A server that answers every GetDay with the date it was asked for.
    static let echoDay: FakePortalServer.Behaviour = { connection, request in
        let day = (try? GetDayRequest(serializedBytes: request.payload)) ?? GetDayRequest()
        connection.reply(to: request, with: GetDayResponse(date: day.date))
    }

    static func withServer(
        _ behaviour: @escaping FakePortalServer.Behaviour,
        configuration: PortalClient.Configuration = .defaults,
        _ body: (FakePortalServer, PortalClient) async throws -> Void
    ) async throws {
        let server = try await FakePortalServer.start(behaviour)
        let client = PortalClient(host: "127.0.0.1", port: server.port, configuration: configuration)
        do {
            try await body(server, client)
        } catch {
            await client.shutdown()
            try await server.stop()
            throw error
        }
        await client.close()
        try await server.stop()
    }

    static func getDay(_ client: PortalClient, _ date: String, timeout: Duration? = nil) async throws(RPCError) -> GetDayResponse {
        try await client.call(AdminMethods.getDay, GetDayRequest(date: date), timeout: timeout)
    }

    @Test("Many concurrent calls share one connection and get their own answers back in any order")
    func concurrentCallsOutOfOrder() async throws {
        let calls = 200
        let held = NIOLockedValueBox<[(FakeServerConnection, RequestEnvelope)]>([])
        try await Self.withServer({ connection, request in
            // Hold every request, then answer all of them in reverse order.
            let batch: [(FakeServerConnection, RequestEnvelope)]? = held.withLockedValue { held in
                held.append((connection, request))
                guard held.count == calls else { return nil }
                defer { held.removeAll() }
                return held.reversed()
            }
            for (connection, request) in batch ?? [] { Self.echoDay(connection, request) }
        }) { server, client in
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<calls {
                    group.addTask {
                        (index, try await Self.getDay(client, "day-\(index)").date)
                    }
                }
                var answered = 0
                for try await (index, date) in group {
                    #expect(date == "day-\(index)")
                    answered += 1
                }
                #expect(answered == calls)
            }
            #expect(server.connectionCount == 1)
            let ids = server.received.map(\.envelope.id)
            #expect(Set(ids).count == calls)
            #expect(!ids.contains(0))
            #expect(client.connectionsOpened == 1)
        }
    }

    @Test("A call with no answer in time fails with DEADLINE_EXCEEDED; the late answer is dropped")
    func perCallTimeout() async throws {
        let slow = NIOLockedValueBox<(FakeServerConnection, RequestEnvelope)?>(nil)
        try await Self.withServer({ connection, request in
            let day = (try? GetDayRequest(serializedBytes: request.payload)) ?? GetDayRequest()
            if day.date == "slow" {
                slow.withLockedValue { $0 = (connection, request) }
            } else {
                Self.echoDay(connection, request)
            }
        }) { server, client in
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: RPCError.self) {
                _ = try await Self.getDay(client, "slow", timeout: .milliseconds(200))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(error?.reason == .deadlineExceeded)
            #expect(clock.now - started < .seconds(2))

            // The timeout travelled as timeout_ms.
            let sent = try #require(server.received.first?.envelope)
            #expect((1...200).contains(sent.timeoutMs))

            // The late answer arrives and is ignored; the connection keeps working.
            let (connection, request) = try #require(slow.withLockedValue { $0 })
            Self.echoDay(connection, request)
            let next = try await Self.getDay(client, "2025-10-08", timeout: .seconds(5))
            #expect(next.date == "2025-10-08")
            #expect(server.connectionCount == 1)
        }
    }

    @Test("UNAVAILABLE / SHUTTING_DOWN is retried once and then succeeds")
    func shuttingDownIsRetried() async throws {
        let attempts = NIOLockedValueBox(0)
        try await Self.withServer({ connection, request in
            let attempt = attempts.withLockedValue { $0 += 1; return $0 }
            if attempt == 1 {
                connection.fail(request, RPCError(code: .unavailable, reason: .shuttingDown, message: "Draining."))
            } else {
                Self.echoDay(connection, request)
            }
        }) { server, client in
            let day = try await Self.getDay(client, "2025-10-08")
            #expect(day.date == "2025-10-08")
            #expect(server.received.count == 2)
        }
    }

    @Test("Other UNAVAILABLE answers are not retried")
    func otherUnavailableIsNotRetried() async throws {
        try await Self.withServer({ connection, request in
            connection.fail(request, RPCError(code: .unavailable, reason: "STRIPE_DOWN", message: "Payments are down."))
        }) { server, client in
            let error = await #expect(throws: RPCError.self) { _ = try await Self.getDay(client, "2025-10-08") }
            #expect(error?.reason == "STRIPE_DOWN")
            #expect(server.received.count == 1)
        }
    }

    @Test("A lost connection fails calls in flight with CONNECTION_LOST (not retried); the next call reconnects")
    func connectionLossThenReconnect() async throws {
        try await Self.withServer({ connection, request in
            if connection.number == 1 {
                connection.close()
            } else {
                Self.echoDay(connection, request)
            }
        }) { server, client in
            let error = await #expect(throws: RPCError.self) { _ = try await Self.getDay(client, "2025-10-08") }
            #expect(error?.code == .unavailable)
            #expect(error?.reason == .connectionLost)
            #expect(server.received.count == 1)

            let day = try await Self.getDay(client, "2025-10-09")
            #expect(day.date == "2025-10-09")
            #expect(server.received.last?.connection == 2)
            #expect(server.connectionCount == 2)
        }
    }

    @Test("After a go-away, calls in flight complete on the old connection and new calls use a new one")
    func goAwayDrainsConnection() async throws {
        let heldOnFirst = NIOLockedValueBox<(FakeServerConnection, RequestEnvelope)?>(nil)
        try await Self.withServer({ connection, request in
            if connection.number == 1 {
                if heldOnFirst.withLockedValue({ $0 }) == nil {
                    // Hold the first call and start draining, as portald does on SIGTERM.
                    heldOnFirst.withLockedValue { $0 = (connection, request) }
                    connection.sendGoAway()
                } else {
                    connection.fail(request, RPCError(code: .unavailable, reason: .shuttingDown, message: "Draining."))
                }
            } else {
                // A call arrived on a new connection: finish the held one too.
                Self.echoDay(connection, request)
                if let (first, held) = heldOnFirst.withLockedValue({ $0 }) { Self.echoDay(first, held) }
            }
        }) { server, client in
            async let inFlight = Self.getDay(client, "in-flight")
            try await server.waitUntil { $0.received.count == 1 }
            try await Task.sleep(for: .milliseconds(50))  // the go-away reaches the client

            let next = try await Self.getDay(client, "next")
            #expect(next.date == "next")
            #expect(try await inFlight.date == "in-flight")

            #expect(server.connectionCount == 2)
            #expect(server.received.first { $0.envelope.id != 0 && $0.connection == 2 } != nil)
            // The drained connection is closed by the client once its last call completed.
            try await server.waitUntil { $0.closedConnections.contains(1) }
        }
    }

    @Test("A server error arrives as a typed RPCError with code, reason, message and details")
    func typedErrors() async throws {
        try await Self.withServer({ connection, request in
            connection.fail(
                request,
                RPCError(
                    code: .failedPrecondition, reason: "BLOCK_IN_USE",
                    message: "Block 7 has bookings or active holds.", details: ["block_id": "7"]))
        }) { server, client in
            let error = await #expect(throws: RPCError.self) {
                _ = try await client.call(AdminMethods.deleteBlock, DeleteBlockRequest(blockId: 7))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.reason == "BLOCK_IN_USE")
            #expect(error?.message == "Block 7 has bookings or active holds.")
            #expect(error?.details == ["block_id": "7"])
            #expect(server.received.count == 1)
        }
    }

    @Test("A fatal frame with id 0 fails every call in flight with its error")
    func fatalFrameFailsEverything() async throws {
        let seen = NIOLockedValueBox(0)
        try await Self.withServer({ connection, request in
            if seen.withLockedValue({ $0 += 1; return $0 }) == 3 {
                connection.send(ResponseEnvelope(
                    id: 0,
                    status: Status(RPCError(code: .resourceExhausted, reason: .frameTooLarge, message: "Frame too large.")),
                    payload: []))
                connection.close()
            }
        }) { server, client in
            try await withThrowingTaskGroup(of: RPCError?.self) { group in
                for index in 0..<3 {
                    group.addTask {
                        do throws(RPCError) {
                            _ = try await Self.getDay(client, "d\(index)")
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                for try await error in group {
                    #expect(error?.code == .resourceExhausted)
                    #expect(error?.reason == .frameTooLarge)
                }
            }
        }
    }

    @Test("Default credentials go with every call; a call can override them or send none")
    func credentialsAndMetadata() async throws {
        var configuration = PortalClient.Configuration.defaults
        configuration.authorization = .bearer("admin-key")
        try await Self.withServer(Self.echoDay, configuration: configuration) { server, client in
            _ = try await Self.getDay(client, "a")
            _ = try await client.call(
                AdminMethods.getDay, GetDayRequest(date: "b"), credentials: .bearer("session"),
                metadata: ["X-Request-Source": "test"])
            _ = try await client.call(AdminMethods.getDay, GetDayRequest(date: "c"), credentials: .anonymous)
            let metadata = server.received.map(\.envelope.metadata)
            #expect(metadata[0] == ["authorization": "Bearer admin-key"])
            #expect(metadata[1] == ["authorization": "Bearer session", "x-request-source": "test"])
            #expect(metadata[2] == [:])
            #expect(server.received.map(\.envelope.method) == Array(repeating: "portal.v1.Admin/GetDay", count: 3))
            #expect("\(Credentials.bearer("secret"))".contains("secret") == false)
        }
    }

    @Test("A cancelled call fails with CANCELLED")
    func cancellation() async throws {
        try await Self.withServer({ _, _ in /* never answers */ }) { server, client in
            let task = Task { try await Self.getDay(client, "never") }
            try await server.waitUntil { $0.received.count == 1 }
            task.cancel()
            let error = await #expect(throws: RPCError.self) { _ = try await task.value }
            #expect(error?.code == .cancelled)
        }
    }

    @Test("No server listening: UNAVAILABLE / CONNECT_FAILED after the bounded retries")
    func connectFailure() async throws {
        // Bind and close a server to get a port nobody listens on.
        let server = try await FakePortalServer.start(Self.echoDay)
        let port = server.port
        try await server.stop()
        var configuration = PortalClient.Configuration.defaults
        configuration.retryPolicy = .init(maximumAttempts: 3, initialBackoff: .milliseconds(10))
        let client = PortalClient(host: "127.0.0.1", port: port, configuration: configuration)
        let error = await #expect(throws: RPCError.self) { _ = try await Self.getDay(client, "x") }
        #expect(error?.code == .unavailable)
        #expect(error?.reason == .connectFailed)
        await client.close()
    }

    @Test("After close(), calls fail with CLIENT_CLOSED")
    func callsAfterClose() async throws {
        let server = try await FakePortalServer.start(Self.echoDay)
        let client = PortalClient(host: "127.0.0.1", port: server.port)
        _ = try await Self.getDay(client, "x")
        await client.close()
        let error = await #expect(throws: RPCError.self) { _ = try await Self.getDay(client, "y") }
        #expect(error?.reason == .clientClosed)
        try await server.waitUntil { $0.closedConnections.contains(1) }
        try await server.stop()
    }
}
