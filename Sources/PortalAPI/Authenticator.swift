import PortalServer
import PortalWire

/// Checks the credentials of a call (`authorization: Bearer <token>`).
///
/// Admin API keys are compared in constant time and never logged. Portal
/// session tokens are checked by `sessionVerifier`, which the portal-login
/// capability supplies; without one, no session is valid.
public struct Authenticator: Sendable {
    /// Resolves a portal session token to the client it acts for, or throws
    /// UNAUTHENTICATED (unknown, expired, logged out, login disabled).
    public typealias SessionVerifier = @Sendable (String) async throws -> Int64
    /// Answers from memory, without blocking, the client of a session token
    /// known to be live; `nil` when it cannot tell (then ask the verifier).
    public typealias CachedSessionLookup = @Sendable (String) -> Int64?

    private let adminKeys: [[UInt8]]
    private let sessionVerifier: SessionVerifier?
    private let cachedSessionLookup: CachedSessionLookup?

    /// An authenticator accepting `adminKeys` for Admin methods and, for
    /// Portal methods, the sessions `sessionVerifier` accepts.
    /// `cachedSession`, when given, lets portal calls skip the verifier on
    /// the event loop (``cachedSession(_:)``).
    public init(
        adminKeys: [String], sessionVerifier: SessionVerifier? = nil,
        cachedSession: CachedSessionLookup? = nil
    ) {
        self.adminKeys = adminKeys.filter { !$0.isEmpty }.map { Array($0.utf8) }
        self.sessionVerifier = sessionVerifier
        self.cachedSessionLookup = cachedSession
    }

    /// The client id of the call's portal session when it is known to be
    /// live without asking the store; `nil` means "run ``requireSession(_:)``"
    /// (missing or wrong credentials, an admin key, a session not cached).
    public func cachedSession(_ context: RequestContext) -> Int64? {
        // Only tokens that authenticated as live sessions are cached, so a
        // hit is never an admin key: no key comparison on this path.
        guard let cachedSessionLookup, let token = context.bearerToken else { return nil }
        return cachedSessionLookup(token)
    }

    /// Succeeds when the call carries an admin API key.
    ///
    /// - Throws: UNAUTHENTICATED (`MISSING_CREDENTIALS`, `INVALID_CREDENTIALS`),
    ///   or PERMISSION_DENIED (`WRONG_CREDENTIAL_KIND`) for a portal session token.
    public func requireAdmin(_ context: RequestContext) async throws {
        let token = try Self.token(of: context)
        if isAdminKey(token) { return }
        if let sessionVerifier, (try? await sessionVerifier(token)) != nil {
            throw RPCError(
                code: .permissionDenied, reason: .wrongCredentialKind,
                message: "Admin methods need an admin API key, not a portal session.")
        }
        throw Self.invalidCredentials
    }

    /// The client id of the call's portal session.
    ///
    /// - Throws: UNAUTHENTICATED for a missing, unknown, expired or disabled
    ///   session; PERMISSION_DENIED (`WRONG_CREDENTIAL_KIND`) for an admin key.
    public func requireSession(_ context: RequestContext) async throws -> Int64 {
        let token = try Self.token(of: context)
        if isAdminKey(token) {
            throw RPCError(
                code: .permissionDenied, reason: .wrongCredentialKind,
                message: "Portal methods act for a client: log in and use the session token.")
        }
        guard let sessionVerifier else { throw Self.invalidCredentials }
        return try await sessionVerifier(token)
    }

    /// Whether `token` equals one of the admin keys. Every key is compared in
    /// full whatever the outcome, so timing does not reveal how much matched.
    func isAdminKey(_ token: String) -> Bool {
        var token = token
        return token.withUTF8 { candidate in
            var matched = false
            for key in adminKeys {
                matched = key.withUnsafeBufferPointer { Self.constantTimeEquals(candidate, $0) } || matched
            }
            return matched
        }
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in constantTimeEquals(a, b) } }
    }

    /// Compares two byte strings in time that depends only on their lengths
    /// (no copy of either: this runs on every portal call).
    static func constantTimeEquals(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var difference = UInt64(a.count ^ b.count)
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= UInt64(x ^ y)
        }
        return difference == 0
    }

    private static func token(of context: RequestContext) throws -> String {
        guard let token = context.bearerToken else {
            // Present but not `Bearer <token>`: wrong credentials, not none.
            if context.metadata[MetadataKey.authorization] != nil { throw invalidCredentials }
            throw RPCError(
                code: .unauthenticated, reason: .missingCredentials,
                message: "Missing credentials: send authorization = Bearer <token> in the metadata.")
        }
        return token
    }

    static let invalidCredentials = RPCError(
        code: .unauthenticated, reason: .invalidCredentials, message: "Invalid credentials.")
}
