extension Checkout {
    /// How the checkout, its outbox worker and its sweeper behave.
    public struct Configuration: Sendable {
        /// How long past a hold's shown expiry the sweeper waits before it
        /// settles the hold's payment, for confirmations still in flight.
        /// Default 60 s (`portald --hold-grace-seconds`).
        public var holdGraceSeconds: Int64
        /// How often the sweeper looks for abandoned holds. Default 15 s.
        public var sweepInterval: Duration
        /// How often the outbox worker looks for due payment calls. Default 1 s.
        public var outboxPollInterval: Duration
        /// How long one attempt of a payment call may take before another
        /// worker may try the same row again (it must exceed the provider
        /// client's own timeouts and retries). Default 180 s.
        public var outboxLeaseSeconds: Int64
        /// The wait before the first retry of a failed payment call; it
        /// doubles with every attempt. Default 2 s.
        public var retryInitialBackoffSeconds: Int64
        /// The longest wait between two attempts of a payment call; payment
        /// calls are retried until they are settled. Default 300 s.
        public var retryMaxBackoffSeconds: Int64
        /// Test-only faults (see ``CheckoutFaults``). Default none.
        public var faults: CheckoutFaults

        /// Every default.
        public static var defaults: Configuration { Configuration() }

        public init(
            holdGraceSeconds: Int64 = 60,
            sweepInterval: Duration = .seconds(15),
            outboxPollInterval: Duration = .seconds(1),
            outboxLeaseSeconds: Int64 = 180,
            retryInitialBackoffSeconds: Int64 = 2,
            retryMaxBackoffSeconds: Int64 = 300,
            faults: CheckoutFaults = .none
        ) {
            self.holdGraceSeconds = holdGraceSeconds
            self.sweepInterval = sweepInterval
            self.outboxPollInterval = outboxPollInterval
            self.outboxLeaseSeconds = outboxLeaseSeconds
            self.retryInitialBackoffSeconds = retryInitialBackoffSeconds
            self.retryMaxBackoffSeconds = retryMaxBackoffSeconds
            self.faults = faults
        }

        /// The wait after failed attempt number `attempts` (1, 2, …):
        /// `min(max, initial × 2^(attempts−1))`, scaled by `jitter` in [0.5, 1].
        func backoffSeconds(afterAttempt attempts: Int, jitter: Double = Double.random(in: 0.5...1)) -> Int64 {
            let exponent = min(max(attempts - 1, 0), 20)
            let raw = min(retryMaxBackoffSeconds, retryInitialBackoffSeconds << Int64(exponent))
            return max(1, Int64((Double(raw) * min(max(jitter, 0.5), 1)).rounded()))
        }
    }
}
