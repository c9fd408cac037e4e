/// Limits failed logins per username: after `maxFailures` failures within
/// `windowSeconds`, further attempts for that username are refused without
/// checking the password until the oldest failure leaves the window.
///
/// A sliding window: each failure is remembered for `windowSeconds`, so the
/// limit lifts gradually (one attempt frees up when the oldest failure
/// ages out). An attempt is counted as a failure *when it is admitted* and
/// forgiven if it succeeds, so many concurrent attempts cannot slip past the
/// limit while their password hashes are still being checked.
///
/// A pure value: the caller keeps it behind a lock and passes the time in,
/// so tests drive it with a manual clock. Portal keeps it in memory: a
/// restart forgets the failures (documented in docs/access.md), and several
/// server processes would each count on their own.
///
/// ```swift
/// var limiter = LoginRateLimiter(policy: .default)
/// switch limiter.admit("alice", now: clock.now) {
/// case .admitted: /* check the password */ break
/// case .refused(let retryAfterSeconds): throw PortalError.rateLimited(retryAfterSeconds: retryAfterSeconds)
/// }
/// ```
public struct LoginRateLimiter: Sendable {
    /// How many failures are allowed, and for how long they count.
    public struct Policy: Hashable, Sendable {
        /// Failures allowed within the window before attempts are refused.
        /// Default: 5.
        public var maxFailures: Int
        /// How long a failure counts, in seconds. Default: 300 (5 minutes).
        public var windowSeconds: Int64
        /// The most usernames remembered at once; past it the username
        /// whose latest failure is oldest is forgotten first, so that a flood
        /// of made-up usernames cannot exhaust memory. Default: 100,000.
        public var maxTrackedUsernames: Int

        /// A policy; the defaults are 5 failures per 5 minutes.
        public init(maxFailures: Int = 5, windowSeconds: Int64 = 300, maxTrackedUsernames: Int = 100_000) {
            self.maxFailures = maxFailures
            self.windowSeconds = windowSeconds
            self.maxTrackedUsernames = maxTrackedUsernames
        }

        /// 5 failures per 5 minutes, 100,000 usernames.
        public static var `default`: Policy { Policy() }
    }

    /// The answer to one login attempt.
    public enum Decision: Hashable, Sendable {
        /// Go on and check the password; call ``recordSuccess(for:)`` if it
        /// was right.
        case admitted
        /// Refused without checking; the caller may try again after this
        /// many seconds (at least 1).
        case refused(retryAfterSeconds: Int64)
    }

    /// The policy in force.
    public let policy: Policy
    /// Failure times per username, oldest first, at most `maxFailures` each.
    private var failures: [String: [Instant]] = [:]

    /// A limiter with no failures recorded.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_CONFIGURATION`
    ///   unless every number of the policy is positive.
    public init(policy: Policy) throws(PortalError) {
        guard policy.maxFailures >= 1 else {
            throw .invalidArgument(
                .invalidConfiguration, "At least one failed login must be allowed.",
                field: "login_max_failures")
        }
        guard policy.windowSeconds >= 1 else {
            throw .invalidArgument(
                .invalidConfiguration, "The login rate-limit window must be positive.",
                field: "login_window_seconds")
        }
        guard policy.maxTrackedUsernames >= 1 else {
            throw .invalidArgument(
                .invalidConfiguration, "The limiter must track at least one username.",
                field: "login_max_tracked_usernames")
        }
        self.policy = policy
    }

    /// Decides whether an attempt for `username` may go on at `now`; an
    /// admitted attempt counts as a failure until ``recordSuccess(for:)``.
    public mutating func admit(_ username: String, now: Instant) -> Decision {
        var recent = failures[username].map { prune($0, now: now) } ?? []
        if recent.count >= policy.maxFailures {
            failures[username] = recent
            let freesAt = recent[recent.count - policy.maxFailures].adding(seconds: policy.windowSeconds)
            return .refused(retryAfterSeconds: max(1, freesAt.unixSeconds - now.unixSeconds))
        }
        recent.append(now)
        if failures[username] == nil, failures.count >= policy.maxTrackedUsernames {
            makeRoom(now: now)
        }
        failures[username] = recent
        return .admitted
    }

    /// Forgives the failures of `username` after a successful login.
    public mutating func recordSuccess(for username: String) {
        failures[username] = nil
    }

    /// How many failures of `username` count at `now`.
    public func failureCount(for username: String, now: Instant) -> Int {
        failures[username].map { prune($0, now: now).count } ?? 0
    }

    /// How many usernames are remembered.
    public var trackedUsernameCount: Int { failures.count }

    private func prune(_ times: [Instant], now: Instant) -> [Instant] {
        let cutoff = now.adding(seconds: -policy.windowSeconds)
        return times.filter { $0 > cutoff }
    }

    /// Forgets every username whose failures have all aged out; if that
    /// frees nothing, the one whose latest failure is oldest.
    private mutating func makeRoom(now: Instant) {
        let cutoff = now.adding(seconds: -policy.windowSeconds)
        failures = failures.filter { $0.value.last.map { $0 > cutoff } ?? false }
        if failures.count >= policy.maxTrackedUsernames,
            let stalest = failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })
        {
            failures[stalest.key] = nil
        }
    }
}
