import Logging
import NIOConcurrencyHelpers
import NIOCore
import PortalMessages
import PortalServer
import PortalWire
import ServiceLifecycle
import XCTest

/// Methods only the tests register. Their messages are the health ones:
/// `HealthCheckRequest.service` carries a number of milliseconds.
enum TestMethods {
    /// Async: sleeps `service` ms (cancellable), then answers SERVING.
    static let slow = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(service: "test.v1.Test", name: "Slow")
    /// Async: answers at once.
    static let echo = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(service: "test.v1.Test", name: "Echo")
    /// Inline: blocks the event loop for `service` ms (to age the requests behind it).
    static let block = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(service: "test.v1.Test", name: "Block")
    /// Async: throws an error that is not an RPCError.
    static let fail = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(service: "test.v1.Test", name: "Fail")
    /// Async: works `service` ms without a cancellation point (a blocked
    /// thread, as a password hash is), then refuses (FAILED_PRECONDITION).
    static let stubbornRefusal = MethodDescriptor<HealthCheckRequest, HealthCheckResponse>(
        service: "test.v1.Test", name: "StubbornRefusal")
    /// Async: answers with `service` bytes of "x" (in a HealthCheckRequest's
    /// `service` field), for tests that need large answers.
    static let large = MethodDescriptor<HealthCheckRequest, HealthCheckRequest>(service: "test.v1.Test", name: "Large")
}

struct SecretFailure: Error, CustomStringConvertible {
    var description: String { "secret database path /var/lib/secret" }
}

/// Counts how often the test methods actually ran.
final class RunLog: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])
    func record(_ name: String) { counts.withLockedValue { $0[name, default: 0] += 1 } }
    func count(_ name: String) -> Int { counts.withLockedValue { $0[name, default: 0] } }
}

/// A server on 127.0.0.1 port 0 inside a ServiceGroup, with the health
/// service, the test methods and a contract that knows `portal.v1.Admin/GetDay`
/// without implementing it.
final class TestServer: Sendable {
    let server: RPCServer
    let group: ServiceGroup
    let port: Int
    let runs: RunLog

    init(server: RPCServer, group: ServiceGroup, port: Int, runs: RunLog) {
        self.server = server
        self.group = group
        self.port = port
        self.runs = runs
    }

    static func makeRouter(runs: RunLog) -> Router {
        var router = Router(knownMethods: HealthMethods.allFullNames + ["portal.v1.Admin/GetDay"])
        router.registerHealthService()
        router.register(TestMethods.slow) { request, _ in
            runs.record("slow")
            try await Task.sleep(nanoseconds: UInt64(Int(request.service) ?? 0) * 1_000_000)
            return HealthCheckResponse(status: .serving)
        }
        router.register(TestMethods.echo) { _, _ in
            HealthCheckResponse(status: .serving)
        }
        router.registerInline(TestMethods.block) { request, _ in
            runs.record("block")
            usleep(UInt32(Int(request.service) ?? 0) * 1000)
            return HealthCheckResponse(status: .serving)
        }
        router.register(TestMethods.large) { request, _ in
            HealthCheckRequest(service: String(repeating: "x", count: Int(request.service) ?? 0))
        }
        router.register(TestMethods.fail) { _, _ in
            throw SecretFailure()
        }
        router.register(TestMethods.stubbornRefusal) { request, _ in
            runs.record("stubbornRefusal")
            usleep(UInt32(Int(request.service) ?? 0) * 1000)
            throw RPCError(code: .failedPrecondition, reason: "TOO_LATE_TO_MATTER", message: "refused")
        }
        return router
    }

    /// Runs `body` against a fresh server, then shuts it down gracefully.
    static func with(
        router customRouter: Router? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (TestServer) async throws -> Void
    ) async throws {
        var configuration = ServerConfiguration.defaults
        configuration.port = 0
        configuration.timeouts.drainGracePeriod = .seconds(5)
        configure(&configuration)
        var logger = Logger(label: "test.server")
        logger.logLevel = .critical
        let runs = RunLog()
        let server = RPCServer(configuration: configuration, router: customRouter ?? makeRouter(runs: runs), logger: logger)
        let group = ServiceGroup(services: [server], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.boundAddress.port!
            let running = TestServer(server: server, group: group, port: port, runs: runs)
            do {
                try await body(running)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func connect() async throws -> RawTestClient {
        try await RawTestClient.connect(port: port)
    }

    /// Proves the server still serves: a health check on a fresh connection.
    func assertStillServes(file: StaticString = #filePath, line: UInt = #line) async throws {
        let client = try await connect()
        let response = try await client.call(.health(id: 1))
        XCTAssertEqual(response.status?.code, 0, file: file, line: line)
        XCTAssertEqual(try HealthCheckResponse(serializedBytes: response.payload).status, .serving, file: file, line: line)
        await client.close()
    }
}

extension RequestEnvelope {
    static func health(id: UInt64, service: String = "") -> RequestEnvelope {
        RequestEnvelope(
            id: id, method: HealthMethods.check.fullName,
            payload: HealthCheckRequest(service: service).serializedBytes())
    }

    static func test(
        _ method: MethodDescriptor<HealthCheckRequest, HealthCheckResponse>, id: UInt64,
        milliseconds: Int = 0, timeoutMs: UInt32 = 0
    ) -> RequestEnvelope {
        RequestEnvelope(
            id: id, method: method.fullName, timeoutMs: timeoutMs,
            payload: HealthCheckRequest(service: String(milliseconds)).serializedBytes())
    }
}

extension ResponseEnvelope {
    var code: StatusCode { StatusCode(rawValue: status?.code ?? 0) }
    var reason: String { status?.reason ?? "" }
}
