import NIOCore
import NIOPosix
import PortalWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ErrorReason {
    /// The client could not open a connection to the server; the call was
    /// never sent (client side only). Retried by the client's retry policy.
    public static let connectFailed: ErrorReason = "CONNECT_FAILED"
    /// The client was closed before or while the call ran (client side only).
    public static let clientClosed: ErrorReason = "CLIENT_CLOSED"
    /// The caller's task was cancelled before the answer arrived (client side only).
    public static let cancelled: ErrorReason = "CANCELLED"
    /// The server's answer could not be decoded as the method's response
    /// message (client side only).
    public static let malformedResponse: ErrorReason = "MALFORMED_RESPONSE"
}

extension RPCError {
    /// The connection was lost with the call in flight: the call may or may
    /// not have run, so it is never retried automatically.
    static let connectionLost = RPCError(
        code: .unavailable, reason: .connectionLost,
        message: "The connection to the server was lost before the answer arrived; the call may have run.")

    /// The caller's task was cancelled.
    static let cancelled = RPCError(
        code: .cancelled, reason: .cancelled, message: "The call was cancelled.")

    /// The client has been closed.
    static let clientClosed = RPCError(
        code: .unavailable, reason: .clientClosed, message: "The client has been closed.")

    /// No answer before the call's deadline.
    static func deadlineExceeded(_ timeout: Duration?) -> RPCError {
        let within = timeout.map { " within \($0.formattedMilliseconds) ms" } ?? ""
        return RPCError(
            code: .deadlineExceeded, reason: .deadlineExceeded,
            message: "The server did not answer\(within).")
    }

    /// The connection could not be established; nothing was sent.
    static func connectFailed(host: String, port: Int, cause: any Error) -> RPCError {
        let why = connectFailureReason(cause).map { ": \($0)" } ?? ""
        return RPCError(
            code: .unavailable, reason: .connectFailed,
            message: "Could not connect to \(host):\(port)\(why).", cause: cause)
    }

    /// A request larger than the frame limit, refused before it is sent.
    static func requestTooLarge(bytes: Int, maximum: Int) -> RPCError {
        RPCError(
            code: .resourceExhausted, reason: .frameTooLarge,
            message: "The request of \(bytes) bytes exceeds the maximum frame length of \(maximum) bytes.",
            details: ["max_frame_bytes": String(maximum), "frame_bytes": String(bytes)])
    }

    /// Why a connection attempt failed, in a few words ("connection refused",
    /// "timed out"), or `nil` when that is not known.
    private static func connectFailureReason(_ error: any Error) -> String? {
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return connectFailureReason(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "the host name could not be resolved" }
            return nil
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        case ChannelError.connectTimeout:
            return "timed out"
        default:
            return nil
        }
    }

    /// Whether the call is known not to have run, so the retry policy may
    /// send it again: the server answered UNAVAILABLE / SHUTTING_DOWN, or the
    /// client never managed to send it (CONNECT_FAILED).
    var isKnownNotToHaveRun: Bool {
        code == .unavailable && (reason == .shuttingDown || reason == .connectFailed)
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded up (a deadline rounded down
    /// could expire on the server before the client's own timer).
    var roundedUpMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let rest = attoseconds % 1_000_000_000_000_000
        return rest > 0 ? millis + 1 : millis
    }

    var formattedMilliseconds: String { String(roundedUpMilliseconds) }
}
