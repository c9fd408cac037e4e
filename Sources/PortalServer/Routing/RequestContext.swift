import Logging
import NIOCore
import PortalWire

/// What a handler knows about the call it serves, besides the request message.
///
/// Metadata values may hold secrets (credentials): never log them.
public struct RequestContext: Sendable {
    /// The id the client chose for the request (unique among its in-flight requests).
    public let requestID: UInt64
    /// The fully-qualified method, e.g. `portal.v1.Admin/GetDay`.
    public let method: String
    /// The call's metadata (lower-case keys).
    public let metadata: [String: String]
    /// When the client stops waiting, counted from when the server received the
    /// frame (`timeout_ms`); `nil` when the client set no deadline.
    ///
    /// A handler that writes must call ``checkDeadline()`` right before it
    /// commits, so that a DEADLINE_EXCEEDED answer always means nothing was
    /// committed.
    public let deadline: NIODeadline?
    private let baseLogger: Logger
    private let drainState: DrainState

    package init(
        requestID: UInt64, method: String, metadata: [String: String], deadline: NIODeadline?,
        logger: Logger, drainState: DrainState
    ) {
        self.requestID = requestID
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.baseLogger = logger
        self.drainState = drainState
    }

    /// The token of an `authorization: Bearer <token>` metadata entry, if any.
    public var bearerToken: String? { MetadataKey.bearerToken(in: metadata) }

    /// A logger whose metadata names the request (id and method, never metadata values).
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "rpc.id"] = "\(requestID)"
        logger[metadataKey: "rpc.method"] = "\(method)"
        return logger
    }

    /// True once the server has started draining for shutdown.
    public var isDraining: Bool { drainState.isDraining }

    /// The deadline as monotonic nanoseconds
    /// (`DispatchTime.now().uptimeNanoseconds`' clock); `nil` without one.
    public var deadlineUptimeNanoseconds: UInt64? { deadline?.uptimeNanoseconds }

    /// True when the deadline has passed.
    public var isPastDeadline: Bool {
        guard let deadline else { return false }
        return deadline <= .now()
    }

    /// Throws DEADLINE_EXCEEDED when the deadline has passed; call it right
    /// before committing a write.
    public func checkDeadline() throws(RPCError) {
        if isPastDeadline { throw RPCError.deadlineExceeded }
    }
}

extension RPCError {
    /// DEADLINE_EXCEEDED: the deadline passed before the work could commit; nothing was committed.
    public static var deadlineExceeded: RPCError {
        RPCError(
            code: .deadlineExceeded, reason: .deadlineExceeded,
            message: "Deadline exceeded; nothing was committed.")
    }
}
