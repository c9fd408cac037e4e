import PortalDomain
import PortalWire

/// The one place where domain errors choose their wire status.
///
/// Each `PortalError.Kind` maps to one gRPC code; the domain's reason, message
/// and details travel as they are (they are written for clients and carry no
/// secrets). Anything that is not a `PortalError` (SQLite errors, bugs) is not
/// `RPCErrorConvertible` and leaves as a generic INTERNAL error.
extension PortalError: RPCErrorConvertible {
    public var rpcError: RPCError {
        RPCError(
            code: Self.statusCode(for: kind), reason: ErrorReason(reason.rawValue),
            message: message, details: details)
    }

    static func statusCode(for kind: Kind) -> StatusCode {
        switch kind {
        case .invalidArgument: .invalidArgument
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        case .permissionDenied: .permissionDenied
        case .resourceExhausted: .resourceExhausted
        case .unauthenticated: .unauthenticated
        case .unavailable: .unavailable
        case .aborted: .aborted
        case .deadlineExceeded: .deadlineExceeded
        default: .internalError
        }
    }
}
