import PortalDomain
import PortalMessages
import PortalServer

extension Router {
    /// Registers a method whose handler runs with the call's deadline bound
    /// for the store and the checkout (``RequestContext/withDeadline(_:)``).
    /// Every method of the API registers through here, or through the fast
    /// path of ``registerPortal(_:authenticator:rawInline:handler:)``.
    mutating func registerHonouringDeadline<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        handler: @escaping @Sendable (Request, RequestContext) async throws -> Response
    ) {
        register(method) { request, context in
            try await context.withDeadline { try await handler(request, context) }
        }
    }

    /// Registers an Admin method: the handler runs only for calls that carry
    /// an admin API key.
    mutating func registerAdmin<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        authenticator: Authenticator,
        handler: @escaping @Sendable (Request) async throws -> Response
    ) {
        registerHonouringDeadline(method) { request, context in
            try await authenticator.requireAdmin(context)
            return try await handler(request)
        }
    }

    /// Registers a Portal method: the handler runs only for calls that carry a
    /// valid portal session, and receives the session's client id.
    mutating func registerPortal<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        authenticator: Authenticator,
        handler: @escaping @Sendable (Request, _ clientID: Int64, RequestContext) async throws -> Response
    ) {
        registerHonouringDeadline(method) { request, context in
            let clientID = try await authenticator.requireSession(context)
            return try await handler(request, clientID, context)
        }
    }

    /// Registers a Portal method with a fast path: when the call's session
    /// is known to be live (``Authenticator/cachedSession(_:)``), `rawInline`
    /// runs on the event loop with the request's bytes, before any decoding
    /// (``Router/register(_:rawInline:handler:)``), and may answer from
    /// memory; otherwise, or when it returns `nil`, the call goes the way of
    /// ``registerPortal(_:authenticator:handler:)``.
    mutating func registerPortal<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        authenticator: Authenticator,
        rawInline: @escaping @Sendable ([UInt8], _ clientID: Int64, RequestContext) -> EncodedResponse?,
        handler: @escaping @Sendable (Request, _ clientID: Int64, RequestContext) async throws -> Response
    ) {
        register(
            method,
            rawInline: { payload, context in
                guard let clientID = authenticator.cachedSession(context) else { return nil }
                return rawInline(payload, clientID, context)
            },
            handler: { request, context in
                try await context.withDeadline {
                    let clientID = try await authenticator.requireSession(context)
                    return try await handler(request, clientID, context)
                }
            })
    }
}

extension RequestContext {
    /// Runs `body` with this call's deadline bound for the store and the
    /// checkout (``CallDeadline``): past it, they start no more work and
    /// commit no write that has not finished running.
    func withDeadline<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await CallDeadline.$uptimeNanoseconds.withValue(deadlineUptimeNanoseconds) { try await body() }
    }
}
