/// The one error type of a Portal call, on both sides of the wire.
///
/// `code`, `reason`, `message` and `details` are what travels in `Status`.
/// `cause` is for the server's log only and never goes on the wire; the
/// `description` is deliberately short and carries no cause, so printing an
/// `RPCError` cannot leak secrets.
public struct RPCError: Error, Sendable, CustomStringConvertible {
    /// The canonical status code.
    public var code: StatusCode
    /// The machine-readable reason (UPPER_SNAKE_CASE).
    public var reason: ErrorReason
    /// A human-readable English explanation with no secrets.
    public var message: String
    /// Structured facts, e.g. `"field": "start_time"`.
    public var details: [String: String]
    /// The underlying error, kept for logs; never encoded.
    public var cause: (any Error)?

    /// Creates an error.
    public init(
        code: StatusCode,
        reason: ErrorReason,
        message: String,
        details: [String: String] = [:],
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.cause = cause
    }

    /// `CODE (REASON): message`; never the cause.
    public var description: String {
        "\(code.name) (\(reason.rawValue)): \(message)"
    }
}

/// An error that knows which wire status it should travel as.
///
/// Domain errors adopt this so that the choice of code happens in one place;
/// anything that does not adopt it is sent as INTERNAL with a generic message.
public protocol RPCErrorConvertible: Error {
    /// The error as it should appear on the wire.
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    /// The error itself.
    public var rpcError: RPCError { self }
}

extension RPCError {
    /// Maps any error to what may travel on the wire: an `RPCErrorConvertible`
    /// chooses its own status; anything else becomes a generic INTERNAL error
    /// whose `cause` keeps the original for logging.
    public init(wrapping error: any Error) {
        if let convertible = error as? any RPCErrorConvertible {
            self = convertible.rpcError
        } else {
            self.init(
                code: .internalError, reason: .internalError,
                message: "Internal server error.", cause: error)
        }
    }
}
