import NIOCore

/// How an ``RPCServer`` listens and which limits it enforces.
///
/// Start from ``defaults`` and change what you need:
///
/// ```swift
/// var configuration = ServerConfiguration.defaults
/// configuration.port = 0                      // any free port (tests)
/// configuration.limits.maxConnections = 512
/// ```
public struct ServerConfiguration: Sendable {
    /// The host to bind. Default: `"127.0.0.1"`.
    public var host: String
    /// The TCP port to bind; 0 picks a free one (read it back with
    /// ``RPCServer/boundAddress``). Default: `7420`.
    public var port: Int
    /// Per-connection and per-server limits.
    public var limits: Limits
    /// Idle, frame and drain timeouts.
    public var timeouts: Timeouts
    /// Outbound buffering thresholds that drive backpressure.
    public var backpressure: Backpressure

    /// Creates a configuration; every argument defaults to the value in ``defaults``.
    public init(
        host: String = "127.0.0.1",
        port: Int = 7420,
        limits: Limits = .defaults,
        timeouts: Timeouts = .defaults,
        backpressure: Backpressure = .defaults
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.timeouts = timeouts
        self.backpressure = backpressure
    }

    /// `127.0.0.1:7420` with ``Limits/defaults``, ``Timeouts/defaults`` and
    /// ``Backpressure/defaults``.
    public static var defaults: ServerConfiguration { ServerConfiguration() }

    /// Limits that protect the server from one client or from too many clients.
    public struct Limits: Sendable {
        /// The largest frame body accepted, in bytes; a longer announced length
        /// is refused from the 4-byte header alone (FRAME_TOO_LARGE) and the
        /// connection closed. Default: 4 MiB (`4_194_304`).
        public var maximumFrameLength: Int
        /// Requests that may run at once on one connection; more are answered
        /// RESOURCE_EXHAUSTED / TOO_MANY_IN_FLIGHT. Default: `1024`.
        public var maxInFlightPerConnection: Int
        /// Connections the server keeps open at once; a connection over the cap
        /// gets a TOO_MANY_CONNECTIONS frame and is closed. Default: `2048`.
        public var maxConnections: Int
        /// Asynchronous calls that run at once in the whole server; later
        /// ones wait in arrival order and start as running ones finish (one
        /// whose deadline passes meanwhile is answered DEADLINE_EXCEEDED
        /// without running). Nothing is refused: this bounds memory,
        /// since a running call holds a task and its async frames (≈ 16 KiB
        /// for a checkout) while a waiting one holds only its request. The
        /// store runs one write transaction at a time (up to 128 writes in
        /// it), so more calls at once only wait inside it. Default: `512`.
        public var maxRunningCalls: Int

        /// Creates limits; every argument defaults to the value in ``defaults``.
        public init(
            maximumFrameLength: Int = 4 * 1024 * 1024,
            maxInFlightPerConnection: Int = 1024,
            maxConnections: Int = 2048,
            maxRunningCalls: Int = 512
        ) {
            self.maximumFrameLength = maximumFrameLength
            self.maxInFlightPerConnection = maxInFlightPerConnection
            self.maxConnections = maxConnections
            self.maxRunningCalls = maxRunningCalls
        }

        /// 4 MiB frames, 1024 requests in flight per connection, 2048
        /// connections, 512 asynchronous calls running at once.
        public static var defaults: Limits { Limits() }
    }

    /// Timeouts of connections and of shutdown.
    public struct Timeouts: Sendable {
        /// A connection with no request in flight that receives nothing for
        /// this long gets an IDLE_TIMEOUT frame (id 0) and is closed.
        /// Default: 5 minutes.
        public var idleTimeout: TimeAmount
        /// A frame must arrive whole within this time of its first bytes,
        /// otherwise the connection gets a FRAME_TIMEOUT frame (id 0) and is
        /// closed: no slowloris. Default: 10 seconds.
        public var frameTimeout: TimeAmount
        /// On graceful shutdown, how long requests already running may take to
        /// finish before they are cancelled and every connection closed.
        /// Default: 10 seconds.
        public var drainGracePeriod: TimeAmount

        /// Creates timeouts; every argument defaults to the value in ``defaults``.
        public init(
            idleTimeout: TimeAmount = .minutes(5),
            frameTimeout: TimeAmount = .seconds(10),
            drainGracePeriod: TimeAmount = .seconds(10)
        ) {
            self.idleTimeout = idleTimeout
            self.frameTimeout = frameTimeout
            self.drainGracePeriod = drainGracePeriod
        }

        /// 5 minutes idle, 10 seconds per frame, 10 seconds of drain grace.
        public static var defaults: Timeouts { Timeouts() }
    }

    /// Write-buffer watermarks: when more than ``highWatermark`` bytes of
    /// answers wait to be sent, the server stops reading from that connection
    /// until fewer than ``lowWatermark`` remain.
    public struct Backpressure: Sendable {
        /// Resume reading below this many buffered outbound bytes. Default: 256 KiB.
        public var lowWatermark: Int
        /// Pause reading above this many buffered outbound bytes. Default: 1 MiB.
        public var highWatermark: Int

        /// Creates watermarks; every argument defaults to the value in ``defaults``.
        public init(lowWatermark: Int = 256 * 1024, highWatermark: Int = 1024 * 1024) {
            self.lowWatermark = lowWatermark
            self.highWatermark = highWatermark
        }

        /// Pause above 1 MiB of buffered answers, resume below 256 KiB.
        public static var defaults: Backpressure { Backpressure() }
    }
}
