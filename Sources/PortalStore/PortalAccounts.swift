import Logging
import PortalDomain

/// Portal logins and sessions: creating a client's login, logging in,
/// authenticating each portal call, logging out.
///
/// Passwords are hashed with a real password KDF (``PasswordHashingPolicy``)
/// on threads of their own, never on an event loop or the store's writer
/// queue. Session tokens are 256 random bits, handed out once and stored
/// only as their SHA-256. Failed logins are rate-limited per username in
/// memory (``LoginRateLimiter``).
///
/// ```swift
/// let accounts = try PortalAccounts(store: store)
/// _ = try await accounts.createPortalLogin(
///     for: client, username: PortalUsername("alice"), password: PortalPassword(new: "correct horse"))
/// let session = try await accounts.login(
///     username: PortalUsername("alice"), password: PortalPassword(presented: "correct horse"))
/// let caller = try await accounts.authenticate(sessionToken: session.token.rawValue)  // == client
/// ```
public final class PortalAccounts: Sendable {
    /// How logins and sessions behave.
    public struct Configuration: Sendable {
        /// How long a session lasts, in seconds. Default: 43,200 (12 hours).
        public var sessionLifetimeSeconds: Int64
        /// How new passwords are hashed. Default: scrypt, N = 2^15, r = 8, p = 1.
        public var passwordHashing: PasswordHashingPolicy
        /// Failed-login limit per username. Default: 5 failures per 5 minutes.
        public var loginRateLimit: LoginRateLimiter.Policy
        /// How many password hashes may run at once (each is CPU-bound and,
        /// with scrypt, takes 32 MiB). Default: 2.
        public var passwordHashingThreads: Int

        /// A configuration with the defaults.
        public init(
            sessionLifetimeSeconds: Int64 = 43_200,
            passwordHashing: PasswordHashingPolicy = .default,
            loginRateLimit: LoginRateLimiter.Policy = .default,
            passwordHashingThreads: Int = 2
        ) {
            self.sessionLifetimeSeconds = sessionLifetimeSeconds
            self.passwordHashing = passwordHashing
            self.loginRateLimit = loginRateLimit
            self.passwordHashingThreads = passwordHashingThreads
        }
    }

    /// The store the accounts live in.
    public let store: PortalStore
    /// The configuration in force.
    public let configuration: Configuration

    let hasher: PasswordHasher
    private let limiter: Locked<LoginRateLimiter>
    private let logger: Logger
    /// Live sessions by token, as the store last answered them. Keyed by the
    /// token itself, which the caller holds in memory anyway, so that a hit
    /// costs no SHA-256 (the store keeps only the hash). Every
    /// write that may end a session (logout, disabling or removing a login,
    /// unlinking a client) advances the store's sessions generation before
    /// it is answered, which makes every entry stale at once; a session's
    /// own end is its entry's bound. Only sessions that authenticated are
    /// kept: refusals (LOGIN_DISABLED, …) always come from the store.
    private let sessionCache = GenerationCache<String, ClientID>(limit: 100_000)

    /// Accounts over `store`.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_CONFIGURATION`
    ///   for a non-positive session lifetime, password hashing below the
    ///   enforced minimum, or an invalid rate-limit policy.
    public init(store: PortalStore, configuration: Configuration = Configuration()) throws(PortalError) {
        guard configuration.sessionLifetimeSeconds > 0 else {
            throw .invalidArgument(
                .invalidConfiguration, "The session lifetime must be positive.",
                field: "session_lifetime_seconds")
        }
        self.store = store
        self.configuration = configuration
        self.hasher = try PasswordHasher(
            policy: configuration.passwordHashing, width: configuration.passwordHashingThreads)
        self.limiter = Locked(try LoginRateLimiter(policy: configuration.loginRateLimit))
        self.logger = store.logger
    }

    /// Gives a client a portal login (`CreatePortalLogin`). The password is
    /// stored only as a salted hash.
    ///
    /// - Returns: the client with its new, active login.
    /// - Throws: ``PortalError`` `notFound` / `CLIENT_NOT_FOUND`;
    ///   `alreadyExists` / `PORTAL_LOGIN_EXISTS` when the client has a login,
    ///   `USERNAME_TAKEN` when another user has the username (also one that
    ///   was unlinked from its client but not deleted).
    public func createPortalLogin(
        for client: ClientID, username: PortalUsername, password: PortalPassword
    ) async throws -> ClientDetails {
        try await store.checkNewPortalLogin(for: client, username: username)
        let hash = try await hasher.hash(password)
        return try await store.insertPortalLogin(for: client, username: username, passwordHash: hash)
    }

    /// Exchanges a username and password for a new session (`Login`).
    ///
    /// Wrong username and wrong password give the same error after the same
    /// work (an unknown username is checked against a dummy hash). A login
    /// that is disabled or removed gives that same error too, even with the
    /// right password: the answer never confirms a password.
    ///
    /// - Throws: ``PortalError`` `resourceExhausted` / `RATE_LIMITED` with
    ///   detail `retry_after_seconds` when the username has too many recent
    ///   failures (the password is then not checked at all);
    ///   `unauthenticated` / `INVALID_CREDENTIALS` otherwise.
    public func login(username: PortalUsername, password: PortalPassword) async throws -> PortalSession {
        let now = store.clock.now
        let decision = limiter.withLock { $0.admit(username.rawValue, now: now) }
        if case .refused(let retryAfterSeconds) = decision {
            throw PortalError.rateLimited(retryAfterSeconds: retryAfterSeconds)
        }
        let user = try await store.passwordHash(of: username)
        let verification = try await hasher.verify(password, against: user?.hash)
        // A disabled or unlinked login is refused here, before any write, so
        // that the right password takes as long as a wrong one.
        guard let user, verification.matches, user.mayLogIn else {
            logger.debug("portal login refused", metadata: ["reason": "invalid_credentials"])
            throw PortalError.invalidCredentials
        }
        let upgraded = verification.isOutdated ? try await hasher.hash(password) : nil
        let token = SessionToken.generate()
        let opened = try await store.openSession(
            userID: user.userID, tokenHash: sessionTokenHash(token),
            lifetimeSeconds: configuration.sessionLifetimeSeconds, upgradedPasswordHash: upgraded)
        limiter.withLock { $0.recordSuccess(for: username.rawValue) }
        logger.info("portal session opened", metadata: ["client_id": "\(opened.client)"])
        return PortalSession(token: token, client: opened.client, expiresAt: opened.expiresAt)
    }

    /// The client a session acts for; runs on every portal call, so it is
    /// one indexed read and no KDF work.
    ///
    /// - Parameter sessionToken: the token from the call's credentials.
    /// - Throws: ``PortalError`` `unauthenticated`: `INVALID_CREDENTIALS` for
    ///   a token that is malformed, unknown, expired, logged out or whose
    ///   login was removed; `LOGIN_DISABLED` when staff disabled the login.
    public func authenticate(sessionToken: String) async throws -> ClientID {
        guard let token = SessionToken(presented: sessionToken) else {
            throw PortalError.invalidCredentials
        }
        let now = store.clock.now.unixSeconds
        if let client = sessionCache.value(
            for: token.rawValue, generation: store.sessionsGeneration.current, now: now)
        {
            return client
        }
        let grant = try await store.sessionGrant(tokenHash: sessionTokenHash(token))
        sessionCache.insert(
            grant.client, for: token.rawValue, generation: grant.generation,
            validUntil: grant.expiresAt.unixSeconds)
        return grant.client
    }

    /// The client of a session that authenticated recently and that no
    /// write has ended since, answered from memory without blocking (for
    /// the event-loop fast path); `nil` means "ask ``authenticate(sessionToken:)``",
    /// never "refused".
    public func cachedClient(sessionToken: String) -> ClientID? {
        // No format check: only well-formed tokens that authenticated are
        // cached, so anything else simply misses.
        sessionCache.value(
            for: sessionToken, generation: store.sessionsGeneration.current,
            now: store.clock.now.unixSeconds)
    }

    /// Ends a session (`Logout`): its token stops working at once. Ending a
    /// session that has already ended is not an error.
    public func logout(sessionToken: String) async throws {
        guard let token = SessionToken(presented: sessionToken) else { return }
        try await store.endSession(tokenHash: sessionTokenHash(token))
    }

    /// How many failed logins of `username` count now (for tests and
    /// operators).
    public func recentLoginFailures(for username: PortalUsername) -> Int {
        let now = store.clock.now
        return limiter.withLock { $0.failureCount(for: username.rawValue, now: now) }
    }
}
