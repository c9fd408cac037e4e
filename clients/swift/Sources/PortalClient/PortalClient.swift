import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortalMessages
import PortalWire

/// A client of a Portal server: typed calls over one TCP connection that
/// multiplexes any number of concurrent calls.
///
/// ```swift
/// let client = PortalClient(host: "127.0.0.1", port: 7420)
/// let day = try await client.call(
///     AdminMethods.getDay, GetDayRequest(date: "2025-10-08"),
///     credentials: .bearer(adminKey), timeout: .seconds(5))
/// await client.close()
/// ```
///
/// - The connection is opened on the first call and reopened on the next call
///   after it was lost.
/// - Every failure is an `RPCError` (code, reason, message, details). The
///   client's own failures use UNAVAILABLE (CONNECT_FAILED, CONNECTION_LOST,
///   CLIENT_CLOSED), DEADLINE_EXCEEDED, CANCELLED and INTERNAL
///   (MALFORMED_RESPONSE, MALFORMED_FRAME).
/// - A call's timeout travels as `timeout_ms` and is enforced locally too: no
///   answer in time fails the call with DEADLINE_EXCEEDED, and the late
///   answer is dropped.
/// - After a go-away from the server the connection drains: its calls in
///   flight complete there, new calls open a new connection.
/// - Only calls known not to have run are retried (see
///   ``RetryPolicy``); a call whose connection is lost fails with
///   UNAVAILABLE / CONNECTION_LOST because it may have run.
/// - Call ``close()`` (or ``shutdown()``) when done: it closes the connections
///   and stops the client's own event-loop thread.
public final class PortalClient: Sendable {
    /// The server's host name or address.
    public let host: String
    /// The server's TCP port.
    public let port: Int
    /// How the client connects, times out and retries.
    public let configuration: Configuration

    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        enum Current {
            case none
            case connecting(generation: Int, EventLoopFuture<Connection>)
            case connected(Connection)
        }

        var current: Current = .none
        var generation = 0
        var connectionsOpened = 0
        var isClosed = false
        /// Every connection not yet closed, draining ones included.
        var open: [ObjectIdentifier: Connection] = [:]
        /// Connection attempts not yet finished, so that closing can wait for them.
        var attempts: [Int: EventLoopFuture<Connection>] = [:]
    }

    /// Creates a client; nothing is connected until the first call.
    ///
    /// - Parameters:
    ///   - host: the server's host name or address, e.g. `"127.0.0.1"`.
    ///   - port: the server's port, e.g. `7420`.
    ///   - configuration: timeouts, frame limit, retry policy, default credentials.
    ///   - eventLoopGroup: the group to run on. `nil` (the default) makes the
    ///     client start one event-loop thread of its own, which ``close()``
    ///     and ``shutdown()`` stop; a group passed in is left running.
    ///   - logger: where connection events are logged (at debug level).
    public init(
        host: String,
        port: Int,
        configuration: Configuration = .defaults,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "portal.client", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.host = host
        self.port = port
        self.configuration = configuration
        if let eventLoopGroup {
            self.group = eventLoopGroup
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            self.ownsGroup = true
        }
        var logger = logger
        logger[metadataKey: "portal.server"] = "\(host):\(port)"
        self.logger = logger
    }

    // MARK: Calls

    /// Calls `method` with `request` and returns its typed response.
    ///
    /// ```swift
    /// let blocks = try await client.call(
    ///     PortalMethods.listBlocks,
    ///     ListBlocksRequest(date: "2025-10-08", serviceCode: "walk"),
    ///     credentials: .bearer(sessionToken))
    /// ```
    ///
    /// - Parameters:
    ///   - method: the method, e.g. `AdminMethods.getDay`.
    ///   - request: the request message.
    ///   - credentials: overrides the client's default
    ///     (``Configuration/authorization``); `.anonymous` sends none.
    ///   - metadata: extra metadata entries (keys are lower-cased).
    ///   - timeout: overrides ``Configuration/defaultTimeout`` for this call;
    ///     retries stay within it.
    /// - Throws: `RPCError`: the server's status, or one of the client's own
    ///   (see ``PortalClient``).
    public func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        credentials: Credentials? = nil,
        metadata: [String: String] = [:],
        timeout: Duration? = nil
    ) async throws(RPCError) -> Response {
        let answer = try await unaryCall(
            method: method.fullName, payload: request.serializedBytes(),
            credentials: credentials, metadata: metadata, timeout: timeout)
        do {
            return try Response(serializedBytes: answer)
        } catch {
            throw RPCError(
                code: .internalError, reason: .malformedResponse,
                message: "The answer to \(method.fullName) could not be decoded.", cause: error)
        }
    }

    /// Calls the method named `method` with an already encoded request and
    /// returns the encoded response: the untyped form of
    /// ``call(_:_:credentials:metadata:timeout:)``, for tools that carry raw
    /// payloads.
    public func unaryCall(
        method: String,
        payload: [UInt8],
        credentials: Credentials? = nil,
        metadata: [String: String] = [:],
        timeout: Duration? = nil
    ) async throws(RPCError) -> [UInt8] {
        let timeout = timeout ?? configuration.defaultTimeout
        let deadline = timeout.map { NIODeadline.now() + TimeAmount($0) }
        let metadata = self.metadata(metadata, credentials: credentials)
        if payload.count > configuration.maximumFrameLength {
            throw .requestTooLarge(bytes: payload.count, maximum: configuration.maximumFrameLength)
        }

        var attempt = 1
        while true {
            do {
                return try await self.attempt(
                    method: method, payload: payload, metadata: metadata,
                    deadline: deadline, timeout: timeout)
            } catch {
                let policy = configuration.retryPolicy
                guard error.isKnownNotToHaveRun, attempt < policy.maximumAttempts else { throw error }
                let pause = policy.backoff(afterAttempt: attempt)
                if let deadline, NIODeadline.now() + TimeAmount(pause) >= deadline { throw error }
                logger.debug(
                    "Retrying a call known not to have run",
                    metadata: [
                        "portal.method": "\(method)", "portal.attempt": "\(attempt + 1)",
                        "portal.reason": "\(error.reason)",
                    ])
                do {
                    try await Task.sleep(for: pause)
                } catch {
                    throw .cancelled
                }
                attempt += 1
            }
        }
    }

    private func attempt(
        method: String,
        payload: [UInt8],
        metadata: [String: String],
        deadline: NIODeadline?,
        timeout: Duration?
    ) async throws(RPCError) -> [UInt8] {
        if Task.isCancelled { throw .cancelled }
        // A connection that turns out to be draining was not used: try the next
        // one. The bound only guards against a server that says go-away to
        // every new connection at once.
        for _ in 0..<3 {
            if let deadline, deadline <= .now() { throw .deadlineExceeded(timeout) }
            let connection = try await self.connection(deadline: deadline, timeout: timeout)
            guard
                let outcome = await connection.call(
                    method: method, payload: payload, metadata: metadata,
                    deadline: deadline, timeout: timeout)
            else {
                self.retire(connection)
                continue
            }
            return try outcome.get().payload
        }
        throw RPCError(
            code: .unavailable, reason: .connectFailed,
            message: "The server at \(host):\(port) takes no new calls.")
    }

    private func metadata(_ extra: [String: String], credentials: Credentials?) -> [String: String] {
        var metadata: [String: String] = [:]
        for (key, value) in extra { metadata[key.lowercased()] = value }
        if let value = (credentials ?? configuration.authorization)?.authorizationValue {
            metadata[MetadataKey.authorization] = value
        }
        return metadata
    }

    // MARK: Connections

    private enum Lookup {
        case ready(Connection)
        case wait(EventLoopFuture<Connection>, newGeneration: Int?)
        case closed
    }

    /// The connection new calls go to: the current one while it takes calls,
    /// else a new one (one attempt shared by every caller waiting for it).
    private func connection(deadline: NIODeadline?, timeout: Duration?) async throws(RPCError) -> Connection {
        let lookup: Lookup = state.withLockedValue { state in
            if state.isClosed { return .closed }
            switch state.current {
            case .connected(let connection) where connection.isAcceptingCalls:
                return .ready(connection)
            case .connecting(_, let future):
                return .wait(future, newGeneration: nil)
            case .connected, .none:
                state.generation += 1
                let future = self.connect(number: state.generation)
                state.current = .connecting(generation: state.generation, future)
                state.attempts[state.generation] = future
                return .wait(future, newGeneration: state.generation)
            }
        }
        switch lookup {
        case .ready(let connection):
            return connection
        case .closed:
            throw .clientClosed
        case .wait(let future, let newGeneration):
            if let generation = newGeneration {
                future.whenComplete { [weak self] result in
                    self?.connectAttemptFinished(generation: generation, result: result)
                }
            }
            return try await wait(for: future, deadline: deadline, timeout: timeout)
        }
    }

    private func connect(number: Int) -> EventLoopFuture<Connection> {
        let maximumFrameLength = configuration.maximumFrameLength
        logger.debug("Connecting", metadata: ["portal.connection": "\(number)"])
        return ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = Connection(
                        channel: channel, number: number, maximumFrameLength: maximumFrameLength)
                    try channel.pipeline.syncOperations.addHandler(
                        ResponseHandler(connection: connection, maximumFrameLength: maximumFrameLength))
                }
            }
            .connect(host: host, port: port)
            .flatMapThrowing { channel in
                try channel.pipeline.syncOperations.handler(type: ResponseHandler.self).connection
            }
    }

    private func connectAttemptFinished(generation: Int, result: Result<Connection, any Error>) {
        let closeNow: Connection? = state.withLockedValue { state in
            state.attempts[generation] = nil
            guard case .success(let connection) = result else {
                if case .connecting(generation, _) = state.current { state.current = .none }
                return nil
            }
            if state.isClosed { return connection }
            state.connectionsOpened += 1
            state.open[ObjectIdentifier(connection)] = connection
            if case .connecting(generation, _) = state.current { state.current = .connected(connection) }
            return nil
        }
        switch result {
        case .success(let connection):
            logger.debug("Connected", metadata: ["portal.connection": "\(connection.number)"])
            if let closeNow {
                closeNow.failAll(with: .clientClosed)
                return
            }
            connection.channel.closeFuture.whenComplete { [weak self] _ in
                self?.connectionClosed(connection)
            }
        case .failure(let error):
            logger.debug("Connect failed", metadata: ["portal.error": "\(error)"])
        }
    }

    private func connectionClosed(_ connection: Connection) {
        logger.debug("Connection closed", metadata: ["portal.connection": "\(connection.number)"])
        state.withLockedValue { state in
            state.open[ObjectIdentifier(connection)] = nil
            if case .connected(let current) = state.current, current === connection {
                state.current = .none
            }
        }
    }

    /// Stops sending new calls to `connection` (it said go-away or closed).
    private func retire(_ connection: Connection) {
        logger.debug("Connection draining", metadata: ["portal.connection": "\(connection.number)"])
        state.withLockedValue { state in
            if case .connected(let current) = state.current, current === connection {
                state.current = .none
            }
        }
    }

    /// Waits for a connection attempt, within the call's deadline and
    /// cancellably. The attempt itself goes on for the other callers.
    private func wait(
        for future: EventLoopFuture<Connection>, deadline: NIODeadline?, timeout: Duration?
    ) async throws(RPCError) -> Connection {
        let host = self.host
        let port = self.port
        let promise = future.eventLoop.makePromise(of: Connection.self)
        future.whenComplete { result in
            promise.completeWith(result.mapError { error in
                RPCError.connectFailed(host: host, port: port, cause: error)
            })
        }
        let timer = deadline.map { deadline in
            future.eventLoop.scheduleTask(deadline: deadline) {
                promise.fail(RPCError.deadlineExceeded(timeout))
            }
        }
        defer { timer?.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(RPCError.cancelled)
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError.connectFailed(host: host, port: port, cause: error)
        }
    }

    // MARK: Stopping

    /// Stops the client gracefully: new calls fail with UNAVAILABLE /
    /// CLIENT_CLOSED, calls in flight complete (or time out), then the
    /// connections close and the client's own event-loop thread stops.
    public func close() async {
        await stop { $0.startDraining() }
    }

    /// Stops the client at once: calls in flight fail with UNAVAILABLE /
    /// CLIENT_CLOSED, the connections close and the client's own event-loop
    /// thread stops.
    public func shutdown() async {
        await stop { $0.failAll(with: .clientClosed) }
    }

    private func stop(_ closing: (Connection) -> Void) async {
        let (connections, attempts) = state.withLockedValue { state in
            state.isClosed = true
            state.current = .none
            return (Array(state.open.values), Array(state.attempts.values))
        }
        // A connection attempt still running is closed as soon as it completes.
        for attempt in attempts {
            _ = try? await attempt.get()
        }
        let all = connections + state.withLockedValue { Array($0.open.values) }
        var seen = Set<ObjectIdentifier>()
        for connection in all where seen.insert(ObjectIdentifier(connection)).inserted {
            closing(connection)
            try? await connection.channel.closeFuture.get()
        }
        if ownsGroup {
            try? await group.shutdownGracefully()
        }
    }

    // MARK: Introspection

    /// How many connections the client has established so far (for tests and metrics).
    public var connectionsOpened: Int {
        state.withLockedValue { $0.connectionsOpened }
    }
}
