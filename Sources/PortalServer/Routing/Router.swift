import Logging
import PortalMessages
import PortalWire

/// Maps fully-qualified method names to handlers.
///
/// The router knows the whole contract (``knownMethods``) as well as the
/// methods that have a handler, so that it can tell a method that does not
/// exist (UNIMPLEMENTED, reason UNKNOWN_METHOD) from one whose capability has
/// not landed yet (UNIMPLEMENTED, reason NOT_IMPLEMENTED).
///
/// ```swift
/// var router = Router(knownMethods: AdminMethods.allFullNames)
/// router.register(AdminMethods.getDay) { (request: GetDayRequest, context) in
///     try await timetable.day(request.date)
/// }
/// router.registerInline(HealthMethods.check, servesWhileDraining: true) { request, context in
///     HealthCheckResponse(status: context.isDraining ? .notServing : .serving)
/// }
/// ```
///
/// Handlers report failures by throwing: an ``RPCErrorConvertible`` chooses its
/// own status; anything else is answered INTERNAL with a generic message and
/// logged with its cause.
public struct Router: Sendable {
    private var routes: [String: Route] = [:]
    /// Every method name of the contract, with or without a handler.
    public private(set) var knownMethods: Set<String>

    /// A router for a contract made of `knownMethods`; no method has a handler yet.
    public init(knownMethods: some Sequence<String> = []) {
        self.knownMethods = Set(knownMethods)
    }

    /// The services of the contract (`portal.v1.Admin`, …): the part of each
    /// known method's name before the `/`.
    public var serviceNames: Set<String> {
        Set(knownMethods.compactMap { name in name.split(separator: "/").first.map(String.init) })
    }

    /// Registers an asynchronous handler. It runs as a child task of the
    /// server's task group, may suspend, and is cancelled at the request's
    /// deadline. Use it for anything that touches storage or the network.
    public mutating func register<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        handler: @escaping @Sendable (Request, RequestContext) async throws -> Response
    ) {
        knownMethods.insert(method.fullName)
        routes[method.fullName] = Route(servesWhileDraining: false, kind: .async { payload, context in
            let request: Request
            switch Self.decode(Request.self, from: payload) {
            case .success(let decoded): request = decoded
            case .failure(let error): return .failure(error)
            }
            do {
                let response = try await handler(request, context)
                return .success(response.serializedBytes())
            } catch {
                return .failure(Self.wireError(for: error, context: context))
            }
        })
    }

    /// Registers a synchronous handler that runs directly on the connection's
    /// event loop, with no task or thread hop: only for cheap work that never
    /// blocks (health checks, answers from memory).
    ///
    /// - Parameter servesWhileDraining: whether the method still answers while
    ///   the server drains (health checks); other methods are then answered
    ///   UNAVAILABLE, reason SHUTTING_DOWN.
    public mutating func registerInline<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        servesWhileDraining: Bool = false,
        handler: @escaping @Sendable (Request, RequestContext) throws -> Response
    ) {
        knownMethods.insert(method.fullName)
        routes[method.fullName] = Route(servesWhileDraining: servesWhileDraining, kind: .inline { payload, context in
            let request: Request
            switch Self.decode(Request.self, from: payload) {
            case .success(let decoded): request = decoded
            case .failure(let error): return .failure(error)
            }
            do {
                return .success(try handler(request, context).serializedBytes())
            } catch {
                return .failure(Self.wireError(for: error, context: context))
            }
        })
    }

    /// Registers a method with a fast path that sees the request's bytes
    /// before they are decoded: `rawInline` runs first, directly on the
    /// connection's event loop, and answers when it can from memory —
    /// typically a cache keyed by the encoded request, which then costs no
    /// decoding at all. When it returns `nil`, the request is decoded (and
    /// refused as usual when malformed) and `handler` runs as an
    /// asynchronous call (a child task, cancelled at the deadline), as
    /// ``register(_:handler:)`` does.
    ///
    /// `rawInline` must never block or wait; whatever it answers must be what
    /// `handler` would answer at this instant for these bytes.
    public mutating func register<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        rawInline: @escaping @Sendable ([UInt8], RequestContext) -> EncodedResponse?,
        handler: @escaping @Sendable (Request, RequestContext) async throws -> Response
    ) {
        register(method, handler: handler)
        guard case .async(let asynchronous) = routes[method.fullName]?.kind else { return }
        routes[method.fullName] = Route(
            servesWhileDraining: false,
            kind: .inlineFirst(
                inline: { payload, context in rawInline(payload, context).map { .success($0.bytes) } },
                async: asynchronous))
    }

    /// Gives every route its slot in `metrics` (the server does, once).
    package mutating func assignMetricSlots(_ metrics: CallMetrics) {
        for name in routes.keys {
            routes[name]!.metricSlot = metrics.slot(of: name) ?? -1
        }
    }

    /// What the server does with a request for `method`.
    package func resolve(_ method: String) -> Resolution {
        if let route = routes[method] { return .route(route) }
        if knownMethods.contains(method) { return .notImplemented }
        return .unknown
    }

    private static func decode<Request: ProtoMessage>(
        _: Request.Type, from payload: [UInt8]
    ) -> Result<Request, RPCError> {
        do {
            return .success(try payload.withUnsafeBytes { raw in try Request(serializedBytes: raw) })
        } catch let error as ProtoDecodingError {
            return .failure(error.rpcError)
        } catch {
            return .failure(ProtoDecodingError(kind: .malformed, field: nil).rpcError)
        }
    }

    /// The wire error for what a handler threw; unmapped errors are logged
    /// with their cause and leave as a generic INTERNAL error.
    package static func wireError(for error: any Error, context: RequestContext) -> RPCError {
        if error is CancellationError {
            return context.isPastDeadline ? .deadlineExceeded : .cancelledByServer
        }
        let wire = RPCError(wrapping: error)
        if wire.code == .internalError || wire.code == .unknown {
            context.logger.error(
                "Handler failed", metadata: ["error": "\(String(reflecting: wire.cause ?? error))"])
        } else {
            context.logger.debug(
                "Handler answered an error",
                metadata: ["code": "\(wire.code)", "reason": "\(wire.reason)"])
        }
        return wire
    }
}

extension RPCError {
    /// CANCELLED: the server cancelled a running call because its drain grace
    /// period ended; whether it committed is unknown.
    package static var cancelledByServer: RPCError {
        RPCError(
            code: .cancelled, reason: .cancelled,
            message: "The server cancelled the call while shutting down.")
    }
}

/// The answer of a handler: the encoded response message or the error to send.
package enum CallOutcome: Sendable {
    /// OK with this encoded response message.
    case success([UInt8])
    /// The error to answer with.
    case failure(RPCError)

    /// The status code it is answered with.
    var statusCode: Int32 {
        switch self {
        case .success: 0
        case .failure(let error): error.code.rawValue
        }
    }
}

/// A response message already encoded, as a fast path answers it (often
/// straight from a cache of encoded answers).
public struct EncodedResponse: Sendable {
    /// The encoded response message.
    public let bytes: [UInt8]

    /// `message`, encoded now.
    public init(_ message: some ProtoMessage) { self.bytes = message.serializedBytes() }

    /// A message encoded earlier.
    public init(encoded bytes: [UInt8]) { self.bytes = bytes }
}

/// A registered method.
package struct Route: Sendable {
    /// How the handler runs.
    package enum Kind: Sendable {
        /// Synchronously on the event loop.
        case inline(@Sendable ([UInt8], RequestContext) -> CallOutcome)
        /// As a child task of the server's task group.
        case async(@Sendable ([UInt8], RequestContext) async -> CallOutcome)
        /// `inline` on the event loop; when it answers `nil`, `async` as a
        /// child task.
        case inlineFirst(
            inline: @Sendable ([UInt8], RequestContext) -> CallOutcome?,
            async: @Sendable ([UInt8], RequestContext) async -> CallOutcome)
    }

    /// Whether it still runs while the server drains.
    package var servesWhileDraining: Bool
    /// How it runs.
    package var kind: Kind
    /// Where its calls are counted (``CallMetrics``); -1 until the server
    /// assigns it, and for a method not counted.
    package var metricSlot = -1
}

/// The router's verdict on a method name.
package enum Resolution: Sendable {
    /// A handler exists.
    case route(Route)
    /// In the contract, not implemented yet: UNIMPLEMENTED / NOT_IMPLEMENTED.
    case notImplemented
    /// Not in the contract: UNIMPLEMENTED / UNKNOWN_METHOD.
    case unknown

    /// The error for a method without a handler.
    package func error(method: String) -> RPCError? {
        switch self {
        case .route: nil
        case .notImplemented:
            RPCError(
                code: .unimplemented, reason: .notImplemented,
                message: "Method \(method) is not implemented yet.")
        case .unknown:
            RPCError(
                code: .unimplemented, reason: .unknownMethod,
                message: "Unknown method.", details: ["field": "method"])
        }
    }
}
