/// The label of a timetable block, shown to clients ("Morning Run").
///
/// 1–100 characters (Unicode scalars), valid UTF-8, not blank, no control
/// characters (a label is one line of text).
public struct BlockLabel: Hashable, Sendable, CustomStringConvertible {
    /// The label text.
    public let rawValue: String

    /// Validates a label.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_LABEL`.
    public init(_ text: String, field: String = "label") throws(PortalError) {
        // Printable ASCII (most labels): no control character, blank only
        // if all spaces — the checks below without their per-scalar
        // Unicode property look-ups (perf: ≈ 1 % of the server's CPU under
        // checkout load, where every booking reads its block back).
        let utf8 = text.utf8
        if (1...100).contains(utf8.count),
            utf8.allSatisfy({ (0x20...0x7E).contains($0) }),
            utf8.contains(where: { $0 != 0x20 })
        {
            self.rawValue = text
            return
        }
        let scalars = text.unicodeScalars
        guard !scalars.isEmpty else {
            throw .invalidArgument(.invalidLabel, "The label must not be empty.", field: field)
        }
        guard scalars.count <= 100 else {
            throw .invalidArgument(
                .invalidLabel, "The label may be at most 100 characters.", field: field)
        }
        guard !scalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidArgument(
                .invalidLabel, "The label must not contain control characters.", field: field)
        }
        guard !scalars.allSatisfy({ $0.properties.isWhitespace }) else {
            throw .invalidArgument(.invalidLabel, "The label must not be blank.", field: field)
        }
        self.rawValue = text
    }

    /// Validates a label from raw request bytes, refusing invalid UTF-8.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_LABEL`.
    public init(utf8 bytes: some Collection<UInt8>, field: String = "label") throws(PortalError) {
        let text = try String(validatingRequestUTF8: bytes, field: field, reason: .invalidLabel)
        try self.init(text, field: field)
    }

    /// The label text.
    public var description: String { rawValue }
}

/// The start and end of a block: `end > start`, both on the block's date.
public struct BlockTimes: Hashable, Sendable {
    /// When the block starts.
    public let start: TimeOfDay
    /// When the block ends; always after `start`.
    public let end: TimeOfDay

    /// Validates a time range.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_TIME_RANGE`
    ///   (field `end_time`) when `end <= start`.
    public init(start: TimeOfDay, end: TimeOfDay) throws(PortalError) {
        guard end > start else {
            throw .invalidArgument(
                .invalidTimeRange, "The end time must be after the start time.", field: "end_time")
        }
        self.start = start
        self.end = end
    }

    /// Parses and validates `HH:MM` start and end strings, reporting the
    /// fields `start_time` and `end_time`.
    ///
    /// - Throws: ``PortalError`` `INVALID_TIME` or `INVALID_TIME_RANGE`.
    public init(start: String, end: String) throws(PortalError) {
        try self.init(
            start: TimeOfDay(start, field: "start_time"), end: TimeOfDay(end, field: "end_time"))
    }
}

/// A named span of one local date during which services may be booked.
///
/// Any number per date, any times, blocks may overlap each other. A block's
/// capacities are ``BlockCapacity`` rows; a service without one is not
/// offered in the block.
public struct TimetableBlock: Hashable, Sendable, Identifiable {
    /// Server-assigned id.
    public let id: BlockID
    /// The local date.
    public let date: LocalDate
    /// Start and end time.
    public let times: BlockTimes
    /// Label shown to clients.
    public let label: BlockLabel

    /// Creates a block value (the store assigns ids; this does not persist).
    public init(id: BlockID, date: LocalDate, times: BlockTimes, label: BlockLabel) {
        self.id = id
        self.date = date
        self.times = times
        self.label = label
    }

    /// Start time of day.
    public var startTime: TimeOfDay { times.start }
    /// End time of day.
    public var endTime: TimeOfDay { times.end }

    /// The span of a booking of `durationMinutes` in this block: it starts at
    /// the block's start.
    public func bookingSpan(durationMinutes: Int) -> LocalTimeSpan {
        LocalTimeSpan(date: date, start: times.start, durationMinutes: durationMinutes)
    }
}
