import PortalWire

extension PortalClient {
    /// How a ``PortalClient`` connects, times out and retries.
    ///
    /// Start from ``defaults`` and change what you need:
    ///
    /// ```swift
    /// var configuration = PortalClient.Configuration.defaults
    /// configuration.defaultTimeout = .seconds(2)
    /// configuration.authorization = .bearer(adminKey)
    /// let client = PortalClient(host: "127.0.0.1", port: 7420, configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// How long to wait for a TCP connection to be established.
        ///
        /// Default: 5 seconds.
        public var connectTimeout: Duration

        /// The timeout of a call that names none; `nil` for no timeout.
        /// Sent to the server as `timeout_ms` and enforced locally.
        ///
        /// Default: 30 seconds.
        public var defaultTimeout: Duration?

        /// The largest frame body accepted from the server, and the largest
        /// request the client sends (a larger request fails locally with
        /// RESOURCE_EXHAUSTED / FRAME_TOO_LARGE and is never sent).
        ///
        /// Default: 4 MiB, the server's default.
        public var maximumFrameLength: Int

        /// When and how often a call that is known not to have run is sent again.
        ///
        /// Default: ``RetryPolicy/defaults`` (3 attempts in all).
        public var retryPolicy: RetryPolicy

        /// The credentials sent with every call that names none: an admin API
        /// key or a portal session token.
        ///
        /// Default: `nil` (no `authorization` metadata).
        public var authorization: Credentials?

        /// Creates a configuration.
        public init(
            connectTimeout: Duration = .seconds(5),
            defaultTimeout: Duration? = .seconds(30),
            maximumFrameLength: Int = WireDefaults.maximumFrameLength,
            retryPolicy: RetryPolicy = .defaults,
            authorization: Credentials? = nil
        ) {
            self.connectTimeout = connectTimeout
            self.defaultTimeout = defaultTimeout
            self.maximumFrameLength = maximumFrameLength
            self.retryPolicy = retryPolicy
            self.authorization = authorization
        }

        /// The defaults, as documented on each property.
        public static var defaults: Configuration { Configuration() }
    }

    /// When a failed call is sent again.
    ///
    /// Only calls known not to have run are retried: the server answered
    /// UNAVAILABLE with reason SHUTTING_DOWN (it was draining and did not
    /// start the call), or no connection could be established so nothing was
    /// sent (UNAVAILABLE / CONNECT_FAILED). A call in flight on a connection
    /// that is lost (CONNECTION_LOST) may have run and is never retried.
    /// Retries stay within the call's deadline.
    public struct RetryPolicy: Sendable {
        /// Attempts in all, the first included; 1 disables retries.
        ///
        /// Default: 3.
        public var maximumAttempts: Int
        /// The pause before the first retry.
        ///
        /// Default: 50 milliseconds.
        public var initialBackoff: Duration
        /// The longest pause between two attempts.
        ///
        /// Default: 1 second.
        public var maximumBackoff: Duration
        /// How much the pause grows after each retry.
        ///
        /// Default: 2.
        public var backoffMultiplier: Double

        /// Creates a retry policy.
        public init(
            maximumAttempts: Int = 3,
            initialBackoff: Duration = .milliseconds(50),
            maximumBackoff: Duration = .seconds(1),
            backoffMultiplier: Double = 2
        ) {
            precondition(maximumAttempts >= 1, "maximumAttempts counts the first attempt")
            self.maximumAttempts = maximumAttempts
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.backoffMultiplier = backoffMultiplier
        }

        /// 3 attempts, backoff from 50 ms doubling up to 1 s.
        public static var defaults: RetryPolicy { RetryPolicy() }

        /// Never retry.
        public static var none: RetryPolicy { RetryPolicy(maximumAttempts: 1) }

        /// The pause after failed attempt `attempt` (1-based), with ±20 %
        /// jitter so that many clients do not retry in lockstep.
        func backoff(afterAttempt attempt: Int) -> Duration {
            var pause = initialBackoff
            for _ in 1..<max(1, attempt) {
                pause = min(pause * backoffMultiplier, maximumBackoff)
            }
            pause = min(pause, maximumBackoff)
            return pause * Double.random(in: 0.8...1.2)
        }
    }
}

/// The credentials of a call, sent as metadata `authorization` =
/// `Bearer <token>`: an admin API key or a portal session token.
///
/// Printing credentials never shows the token.
public struct Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let token: String?

    /// A bearer token: an admin API key or a portal session token.
    public static func bearer(_ token: String) -> Credentials { Credentials(token: token) }

    /// No credentials, even when the client has a default (for `Health/Check`
    /// and `Portal/Login`).
    public static let anonymous = Credentials(token: nil)

    /// The metadata value, if any.
    var authorizationValue: String? { token.map { "Bearer \($0)" } }

    public var description: String { token == nil ? "anonymous" : "Bearer <redacted>" }
    public var debugDescription: String { description }
}
