/// A machine-readable reason carried in `Status.reason`: UPPER_SNAKE_CASE,
/// stable across releases. `docs/protocol.md` lists every reason.
///
/// The transport's own reasons are declared here; the domain adds its own
/// (`CAPACITY_FULL`, `PRICE_CHANGED`, …) through `ErrorReason(_:)`.
public struct ErrorReason: Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The reason as written on the wire.
    public let rawValue: String

    /// A reason with the given UPPER_SNAKE_CASE name.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// A reason written as a literal, e.g. `"CAPACITY_FULL"`.
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The reason as written on the wire.
    public var description: String { rawValue }

    // MARK: Transport reasons

    /// A frame that is not a valid envelope, or announces a zero length. Fatal.
    public static let malformedFrame: ErrorReason = "MALFORMED_FRAME"
    /// A frame whose announced length exceeds the maximum. Fatal.
    public static let frameTooLarge: ErrorReason = "FRAME_TOO_LARGE"
    /// The server is draining; sent in the go-away frame (id 0).
    public static let goAway: ErrorReason = "GOAWAY"
    /// The server is draining; the call did not run and is safe to retry elsewhere or later.
    public static let shuttingDown: ErrorReason = "SHUTTING_DOWN"
    /// The request's id is 0.
    public static let invalidRequestId: ErrorReason = "INVALID_REQUEST_ID"
    /// Another request with the same id is still in flight on the connection.
    public static let duplicateRequestId: ErrorReason = "DUPLICATE_REQUEST_ID"
    /// Too many requests in flight on the connection.
    public static let tooManyInFlight: ErrorReason = "TOO_MANY_IN_FLIGHT"
    /// The server already has as many connections as it accepts. Fatal.
    public static let tooManyConnections: ErrorReason = "TOO_MANY_CONNECTIONS"
    /// No method of that name exists.
    public static let unknownMethod: ErrorReason = "UNKNOWN_METHOD"
    /// The payload could not be decoded as the method's request message.
    public static let malformedPayload: ErrorReason = "MALFORMED_PAYLOAD"
    /// The method exists in the contract but its capability has not landed yet.
    public static let notImplemented: ErrorReason = "NOT_IMPLEMENTED"
    /// The request's deadline passed before the work started or could commit.
    public static let deadlineExceeded: ErrorReason = "DEADLINE_EXCEEDED"
    /// The server cancelled a running call when its drain grace period ended;
    /// whether it committed is unknown.
    public static let cancelled: ErrorReason = "CANCELLED"
    /// The connection was idle for too long. Fatal.
    public static let idleTimeout: ErrorReason = "IDLE_TIMEOUT"
    /// A frame did not arrive whole within the bound. Fatal.
    public static let frameTimeout: ErrorReason = "FRAME_TIMEOUT"
    /// Credentials are missing from the call's metadata.
    public static let missingCredentials: ErrorReason = "MISSING_CREDENTIALS"
    /// The admin API key or session token is not valid.
    public static let invalidCredentials: ErrorReason = "INVALID_CREDENTIALS"
    /// The credentials are valid but of the wrong kind for this service.
    public static let wrongCredentialKind: ErrorReason = "WRONG_CREDENTIAL_KIND"
    /// A server error; details are only in the server's log.
    public static let internalError: ErrorReason = "INTERNAL"
    /// The connection to the server was lost before the answer arrived
    /// (client side only; never sent by the server).
    public static let connectionLost: ErrorReason = "CONNECTION_LOST"
}
