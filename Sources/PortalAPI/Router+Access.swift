import PortalMessages
import PortalServer

extension Router {
    /// Registers an Admin method: the handler runs only for calls that carry
    /// an admin API key.
    mutating func registerAdmin<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor<Request, Response>,
        authenticator: Authenticator,
        handler: @escaping @Sendable (Request) async throws -> Response
    ) {
        register(method) { request, context in
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
        register(method) { request, context in
            let clientID = try await authenticator.requireSession(context)
            return try await handler(request, clientID, context)
        }
    }
}
