extension StripeClient {
    /// How a ``StripeClient`` reaches Stripe.
    public struct Configuration: Sendable {
        /// Stripe's API version, sent as `Stripe-Version` on every request so
        /// that a change of the account's default version cannot change the
        /// answers under us. 2024-06-20 is the last version before Stripe's
        /// 2024-09-30.acacia release train; every PaymentIntent field this
        /// client reads has the same shape in it.
        public static let pinnedAPIVersion = "2024-06-20"

        /// The API's base URL, without a trailing slash. Default `https://api.stripe.com`;
        /// tests point it at a local `localstripe`.
        public var baseURL: String
        /// The `Stripe-Version` header. Default ``pinnedAPIVersion``.
        public var apiVersion: String
        /// How long to wait for a connection. Default 5 s.
        public var connectTimeout: Duration
        /// How long one attempt may take in all, connecting included. Default 30 s.
        public var requestTimeout: Duration
        /// When and how often to try again. Default ``RetryPolicy/defaults``.
        public var retry: RetryPolicy
        /// How many requests may be in flight at once: the number of worker
        /// threads, each with its own reused connection. Default 4.
        public var maxConcurrentRequests: Int
        /// A larger response body is abandoned as an error. Default 1 MiB.
        public var maxResponseBytes: Int
        /// The `User-Agent` header. Default `PortalStripe/1 (libcurl)`.
        public var userAgent: String

        /// Every default.
        public static var defaults: Configuration {
            Configuration(
                baseURL: "https://api.stripe.com",
                apiVersion: pinnedAPIVersion,
                connectTimeout: .seconds(5),
                requestTimeout: .seconds(30),
                retry: .defaults,
                maxConcurrentRequests: 4,
                maxResponseBytes: 1 << 20,
                userAgent: "PortalStripe/1 (libcurl)"
            )
        }

        public init(
            baseURL: String,
            apiVersion: String = pinnedAPIVersion,
            connectTimeout: Duration = .seconds(5),
            requestTimeout: Duration = .seconds(30),
            retry: RetryPolicy = .defaults,
            maxConcurrentRequests: Int = 4,
            maxResponseBytes: Int = 1 << 20,
            userAgent: String = "PortalStripe/1 (libcurl)"
        ) {
            self.baseURL = baseURL
            self.apiVersion = apiVersion
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.retry = retry
            self.maxConcurrentRequests = maxConcurrentRequests
            self.maxResponseBytes = maxResponseBytes
            self.userAgent = userAgent
        }
    }

    /// When a failed request is sent again, and after how long.
    ///
    /// Retried: transport failures where the request may not have arrived or
    /// the answer was lost (connection refused, DNS, timeouts, broken
    /// connections), HTTP 409 (another request with the same idempotency key
    /// is in progress), 429 and 5xx — unless Stripe's `Stripe-Should-Retry`
    /// header says otherwise, which always wins. A POST is retried with the
    /// same `Idempotency-Key`, so Stripe applies it at most once.
    ///
    /// The wait before retry *n* (1, 2, …) is
    /// `min(maxBackoff, initialBackoff × 2^(n−1))`, scaled by a random factor
    /// in [0.5, 1] so that many clients do not retry in step; a `Retry-After`
    /// header lengthens it (up to `maxBackoff`).
    public struct RetryPolicy: Sendable, Hashable {
        /// Attempts in all, the first included (1 = never retry). Default 3.
        public var maxAttempts: Int
        /// The wait before the first retry, before jitter. Default 0.5 s.
        public var initialBackoff: Duration
        /// The longest wait between two attempts. Default 5 s.
        public var maxBackoff: Duration

        /// Three attempts, waits of about 0.5 s then 1 s.
        public static var defaults: RetryPolicy {
            RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(500), maxBackoff: .seconds(5))
        }

        /// One attempt, no retry.
        public static var none: RetryPolicy {
            RetryPolicy(maxAttempts: 1, initialBackoff: .zero, maxBackoff: .zero)
        }

        public init(maxAttempts: Int, initialBackoff: Duration, maxBackoff: Duration) {
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }

        /// The wait before retry number `retry` (1 for the first retry).
        /// `unitRandom` returns a value in [0, 1]; `retryAfterSeconds` is the
        /// server's `Retry-After`, if any.
        func backoff(
            beforeRetry retry: Int,
            retryAfterSeconds: Int? = nil,
            unitRandom: () -> Double = { Double.random(in: 0...1) }
        ) -> Duration {
            let exponent = min(max(retry - 1, 0), 30)
            var wait = initialBackoff * (1 << exponent)
            if wait > maxBackoff { wait = maxBackoff }
            wait = wait * (0.5 + 0.5 * min(max(unitRandom(), 0), 1))
            if let retryAfterSeconds, retryAfterSeconds > 0 {
                wait = max(wait, min(.seconds(retryAfterSeconds), maxBackoff))
            }
            return wait
        }
    }
}

extension Duration {
    /// Whole milliseconds, at least 1 (libcurl reads 0 as "no timeout").
    var clampedMilliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int(clamping: max(ms, 1))
    }
}
