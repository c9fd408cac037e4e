/// The one error type of Portal's domain and store.
///
/// Every refusal a caller can act on is a `PortalError`: a broad ``Kind``
/// (which the wire layer maps to a gRPC status code in one place), a stable
/// machine-readable ``Reason``, an English ``message`` for humans and
/// structured ``details`` such as `"field": "start_time"`.
///
/// The message never contains secrets, SQL or internal identifiers beyond the
/// ids the caller sent, so it may travel on the wire as it is.
///
/// ```swift
/// do {
///     _ = try await store.createHold(client: client, block: block, service: walk)
/// } catch let error as PortalError where error.reason == .capacityFull {
///     // tell the client the block is full
/// }
/// ```
public struct PortalError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broad class of a failure, one per gRPC status it maps to.
    ///
    /// A struct wrapping a private enum, so that kinds can be added without
    /// breaking exhaustive switches in other modules.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case invalidArgument, notFound, alreadyExists, failedPrecondition,
                permissionDenied, resourceExhausted, unauthenticated,
                unavailable, aborted, deadlineExceeded, `internal`
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The input is invalid whatever the state of the system (bad date,
        /// label too long, …).
        public static let invalidArgument = Kind(.invalidArgument)
        /// A named entity (block, service, client, hold) does not exist.
        public static let notFound = Kind(.notFound)
        /// The entity to create already exists.
        public static let alreadyExists = Kind(.alreadyExists)
        /// The system is not in a state that allows the operation (block in
        /// use, capacity full, day not empty, block started, …).
        public static let failedPrecondition = Kind(.failedPrecondition)
        /// The caller may not do this.
        public static let permissionDenied = Kind(.permissionDenied)
        /// A quota or rate limit was hit.
        public static let resourceExhausted = Kind(.resourceExhausted)
        /// The caller's credentials are missing or invalid.
        public static let unauthenticated = Kind(.unauthenticated)
        /// The store cannot serve now (busy, closed); the call may be retried.
        public static let unavailable = Kind(.unavailable)
        /// A concurrent change made the operation fail; retry from the start.
        public static let aborted = Kind(.aborted)
        /// The caller's deadline passed before the work could be done.
        public static let deadlineExceeded = Kind(.deadlineExceeded)
        /// A server fault; details are only in the log.
        public static let `internal` = Kind(.internal)

        /// The kind's name in lowerCamelCase, e.g. `failedPrecondition`.
        public var description: String { wrapped.rawValue }
    }

    /// A machine-readable reason, UPPER_SNAKE_CASE, stable across releases.
    public struct Reason: Hashable, Sendable, CustomStringConvertible,
        ExpressibleByStringLiteral
    {
        /// The reason as written on the wire, e.g. `CAPACITY_FULL`.
        public let rawValue: String

        /// A reason with the given UPPER_SNAKE_CASE name.
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// A reason from a string literal, e.g. `"CAPACITY_FULL"`.
        public init(stringLiteral value: String) { self.rawValue = value }

        /// The raw UPPER_SNAKE_CASE name.
        public var description: String { rawValue }

        // MARK: Malformed input (invalidArgument)

        /// A date is not a valid `YYYY-MM-DD` calendar date.
        public static let invalidDate: Reason = "INVALID_DATE"
        /// A time of day is not a valid `HH:MM` between 00:00 and 23:59.
        public static let invalidTime: Reason = "INVALID_TIME"
        /// A block's end time is not after its start time.
        public static let invalidTimeRange: Reason = "INVALID_TIME_RANGE"
        /// A capacity is outside 0–10000.
        public static let invalidCapacity: Reason = "INVALID_CAPACITY"
        /// A block label is empty, too long, blank, has control characters
        /// or is not valid UTF-8.
        public static let invalidLabel: Reason = "INVALID_LABEL"
        /// A service code is not 1–32 characters of a-z, 0-9, `_`, `-`
        /// starting with a letter.
        public static let invalidServiceCode: Reason = "INVALID_SERVICE_CODE"
        /// A duration is outside 1–1440 minutes.
        public static let invalidDuration: Reason = "INVALID_DURATION"
        /// A price is negative.
        public static let invalidPrice: Reason = "INVALID_PRICE"
        /// A currency is not three lower-case letters.
        public static let invalidCurrency: Reason = "INVALID_CURRENCY"
        /// Notes are longer than 1000 characters or not valid UTF-8.
        public static let invalidNotes: Reason = "INVALID_NOTES"
        /// An id is not a positive integer.
        public static let invalidID: Reason = "INVALID_ID"
        /// A hold token is not in the format the server issues.
        public static let invalidHoldToken: Reason = "INVALID_HOLD_TOKEN"
        /// The business time zone is not a known IANA zone name.
        public static let invalidTimeZone: Reason = "INVALID_TIME_ZONE"
        /// A copy's source and target are the same date.
        public static let sameDay: Reason = "SAME_DAY"
        /// A client's name is empty, blank or longer than 200 characters.
        public static let invalidName: Reason = "INVALID_NAME"
        /// A client's e-mail address is longer than 254 characters.
        public static let invalidEmail: Reason = "INVALID_EMAIL"
        /// A client's phone number is longer than 40 characters.
        public static let invalidPhone: Reason = "INVALID_PHONE"
        /// A server setting (hold lifetime, reader count, …) is invalid.
        public static let invalidConfiguration: Reason = "INVALID_CONFIGURATION"

        // MARK: Missing entities (notFound)

        /// No service has this code.
        public static let unknownService: Reason = "UNKNOWN_SERVICE"
        /// No block has this id.
        public static let blockNotFound: Reason = "BLOCK_NOT_FOUND"
        /// No client has this id.
        public static let clientNotFound: Reason = "CLIENT_NOT_FOUND"
        /// No hold has this token.
        public static let holdNotFound: Reason = "HOLD_NOT_FOUND"
        /// The block does not offer this service (no capacity row) and the
        /// operation needs one to exist.
        public static let capacityNotFound: Reason = "CAPACITY_NOT_FOUND"

        // MARK: State (failedPrecondition)

        /// The block does not offer the service.
        public static let serviceNotOffered: Reason = "SERVICE_NOT_OFFERED"
        /// Bookings plus active holds already fill the capacity.
        public static let capacityFull: Reason = "CAPACITY_FULL"
        /// The client already has an overlapping hold or booking of the
        /// service, and overlap is not allowed.
        public static let overlappingBooking: Reason = "OVERLAPPING_BOOKING"
        /// The block has confirmed bookings or active holds.
        public static let blockInUse: Reason = "BLOCK_IN_USE"
        /// The service has confirmed bookings or active holds in the block.
        public static let capacityInUse: Reason = "CAPACITY_IN_USE"
        /// The target day of a copy already has blocks and replace was false.
        public static let dayNotEmpty: Reason = "DAY_NOT_EMPTY"
        /// The source day of a copy has no blocks.
        public static let sourceDayEmpty: Reason = "SOURCE_DAY_EMPTY"
        /// The block has already started in the business's time zone.
        public static let blockStarted: Reason = "BLOCK_STARTED"

        // MARK: Conflicts (alreadyExists)

        /// A payment reference is already used by another booking.
        public static let paymentAlreadyUsed: Reason = "PAYMENT_ALREADY_USED"

        // MARK: Store (unavailable, internal)

        /// The database stayed locked by another process past the busy
        /// timeout; the call may be retried.
        public static let storeBusy: Reason = "STORE_BUSY"
        /// The store was closed.
        public static let storeClosed: Reason = "STORE_CLOSED"
        /// The database was written by a newer version of Portal.
        public static let schemaTooNew: Reason = "SCHEMA_TOO_NEW"
        /// Another process (or store) already runs over this database file.
        public static let databaseInUse: Reason = "DATABASE_IN_USE"
        /// A server fault; details are only in the log.
        public static let internalError: Reason = "INTERNAL"
    }

    /// The broad class of the failure.
    public var kind: Kind
    /// The machine-readable reason.
    public var reason: Reason
    /// A human-readable English explanation with no secrets.
    public var message: String
    /// Structured facts, e.g. `"field": "start_time"` (the proto field name).
    public var details: [String: String]

    /// Creates an error.
    public init(
        _ kind: Kind, _ reason: Reason, _ message: String,
        details: [String: String] = [:]
    ) {
        self.kind = kind
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// The proto field name the error is about, when there is one.
    public var field: String? { details["field"] }

    /// `kind (REASON): message`.
    public var description: String { "\(kind) (\(reason)): \(message)" }
}

extension PortalError {
    /// An `invalidArgument` error about one request field.
    public static func invalidArgument(
        _ reason: Reason, _ message: String, field: String
    ) -> PortalError {
        PortalError(.invalidArgument, reason, message, details: ["field": field])
    }

    /// A `notFound` error.
    public static func notFound(
        _ reason: Reason, _ message: String, details: [String: String] = [:]
    ) -> PortalError {
        PortalError(.notFound, reason, message, details: details)
    }

    /// A `failedPrecondition` error.
    public static func failedPrecondition(
        _ reason: Reason, _ message: String, details: [String: String] = [:]
    ) -> PortalError {
        PortalError(.failedPrecondition, reason, message, details: details)
    }
}
