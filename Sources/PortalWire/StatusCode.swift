/// A status code of the Portal wire protocol: gRPC's canonical codes 0–16,
/// with the same meanings.
///
/// Like grpc-swift's `RPCError.Code`, it wraps a private enum so that codes
/// can be added without breaking users; compare with the static members:
///
/// ```swift
/// if error.code == .notFound { … }
/// ```
public struct StatusCode: Hashable, Sendable, CustomStringConvertible {
    private enum Wrapped: Int32, Sendable {
        case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound,
            alreadyExists, permissionDenied, resourceExhausted, failedPrecondition,
            aborted, outOfRange, unimplemented, internalError, unavailable, dataLoss,
            unauthenticated
    }

    private let wrapped: Wrapped
    private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

    /// The numeric value carried in `Status.code` on the wire.
    public var rawValue: Int32 { wrapped.rawValue }

    /// The code for a numeric value from the wire; values outside 0–16 become
    /// `unknown`, as gRPC prescribes for codes a peer does not know.
    public init(rawValue: Int32) {
        self.wrapped = Wrapped(rawValue: rawValue) ?? .unknown
    }

    /// 0: success.
    public static let ok = StatusCode(.ok)
    /// 1: the call was cancelled, typically by the caller.
    public static let cancelled = StatusCode(.cancelled)
    /// 2: an error the server could not classify.
    public static let unknown = StatusCode(.unknown)
    /// 3: the request was invalid regardless of the system's state.
    public static let invalidArgument = StatusCode(.invalidArgument)
    /// 4: the deadline passed before the call completed.
    public static let deadlineExceeded = StatusCode(.deadlineExceeded)
    /// 5: a requested entity was not found (or is not the caller's).
    public static let notFound = StatusCode(.notFound)
    /// 6: the entity the caller tried to create already exists.
    public static let alreadyExists = StatusCode(.alreadyExists)
    /// 7: the caller is authenticated but may not do this.
    public static let permissionDenied = StatusCode(.permissionDenied)
    /// 8: a quota or limit was reached (capacity of the connection, rate limit).
    public static let resourceExhausted = StatusCode(.resourceExhausted)
    /// 9: the system is not in a state that allows the call.
    public static let failedPrecondition = StatusCode(.failedPrecondition)
    /// 10: the call was aborted, typically by a concurrency conflict.
    public static let aborted = StatusCode(.aborted)
    /// 11: a value was outside the valid range.
    public static let outOfRange = StatusCode(.outOfRange)
    /// 12: the method is not implemented (or unknown).
    public static let unimplemented = StatusCode(.unimplemented)
    /// 13: an internal invariant broke; details are in the server's log only.
    public static let internalError = StatusCode(.internalError)
    /// 14: the service is unavailable; the call did not run and is safe to retry.
    public static let unavailable = StatusCode(.unavailable)
    /// 15: unrecoverable data loss or corruption.
    public static let dataLoss = StatusCode(.dataLoss)
    /// 16: the call lacks valid credentials.
    public static let unauthenticated = StatusCode(.unauthenticated)

    /// The upper-snake-case gRPC name, e.g. `NOT_FOUND`.
    public var name: String {
        switch wrapped {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internalError: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    /// The upper-snake-case name.
    public var description: String { name }
}
