/// The server-assigned id of a ``TimetableBlock``.
public struct BlockID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id as it travels on the wire (a positive int64).
    public let rawValue: Int64

    /// Wraps an id without checking it; unknown ids fail later as not found.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Wraps an id from a request, refusing zero and negative values.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_ID`.
    public init(validating rawValue: Int64, field: String = "block_id") throws(PortalError) {
        guard rawValue > 0 else {
            throw .invalidArgument(.invalidID, "A block id must be a positive number.", field: field)
        }
        self.rawValue = rawValue
    }

    /// The decimal id.
    public var description: String { String(rawValue) }

    /// Smaller ids first.
    public static func < (lhs: BlockID, rhs: BlockID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The server-assigned id of a ``Client``.
public struct ClientID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id as it travels on the wire (a positive int64).
    public let rawValue: Int64

    /// Wraps an id without checking it; unknown ids fail later as not found.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Wraps an id from a request, refusing zero and negative values.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_ID`.
    public init(validating rawValue: Int64, field: String = "client_id") throws(PortalError) {
        guard rawValue > 0 else {
            throw .invalidArgument(.invalidID, "A client id must be a positive number.", field: field)
        }
        self.rawValue = rawValue
    }

    /// The decimal id.
    public var description: String { String(rawValue) }

    /// Smaller ids first.
    public static func < (lhs: ClientID, rhs: ClientID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The server-assigned id of a ``Booking``.
public struct BookingID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id as it travels on the wire (a positive int64).
    public let rawValue: Int64

    /// Wraps an id without checking it; unknown ids fail later as not found.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Wraps an id from a request, refusing zero and negative values.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_ID`.
    public init(validating rawValue: Int64, field: String = "booking_id") throws(PortalError) {
        guard rawValue > 0 else {
            throw .invalidArgument(.invalidID, "A booking id must be a positive number.", field: field)
        }
        self.rawValue = rawValue
    }

    /// The decimal id.
    public var description: String { String(rawValue) }

    /// Smaller ids first.
    public static func < (lhs: BookingID, rhs: BookingID) -> Bool { lhs.rawValue < rhs.rawValue }
}
