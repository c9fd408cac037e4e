/// The capacity setting of one service in one block: how many confirmed
/// bookings plus active holds it admits, and whether one client may hold
/// overlapping ones.
public struct BlockCapacity: Hashable, Sendable {
    /// The highest capacity the store accepts.
    public static let maximumCapacity = 10_000

    /// The block.
    public let block: BlockID
    /// The service offered.
    public let service: ServiceCode
    /// Maximum confirmed bookings plus active holds, 0–10000.
    public let capacity: Int
    /// When false, one client may not hold two bookings or holds of this
    /// service whose times overlap (the same block included); when true it
    /// may (two dogs of one household).
    public let allowOverlap: Bool

    /// Validates a capacity setting.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_CAPACITY`
    ///   (field `capacity`) outside 0–10000.
    public init(block: BlockID, service: ServiceCode, capacity: Int, allowOverlap: Bool)
        throws(PortalError)
    {
        guard (0...BlockCapacity.maximumCapacity).contains(capacity) else {
            throw .invalidArgument(
                .invalidCapacity, "The capacity must be 0-10000.", field: "capacity")
        }
        self.block = block
        self.service = service
        self.capacity = capacity
        self.allowOverlap = allowOverlap
    }
}

/// One service's capacity in one block together with its current use: the
/// row of a day view.
public struct CapacityUsage: Hashable, Sendable {
    /// The service this row is for.
    public let service: ServiceCode
    /// Maximum confirmed bookings plus active holds.
    public let capacity: Int
    /// Whether one client may hold overlapping bookings of this service.
    public let allowOverlap: Bool
    /// Confirmed bookings in the block for the service.
    public let booked: Int
    /// Active (unexpired) holds in the block for the service.
    public let held: Int

    /// Creates a usage row.
    public init(service: ServiceCode, capacity: Int, allowOverlap: Bool, booked: Int, held: Int) {
        self.service = service
        self.capacity = capacity
        self.allowOverlap = allowOverlap
        self.booked = booked
        self.held = held
    }

    /// Slots still free: `max(0, capacity − booked − held)`. Zero when a
    /// capacity was lowered below what is already booked.
    public var remaining: Int { max(0, capacity - booked - held) }
}

/// A block with every service it offers and each one's use: one entry of a
/// day view (`GetDay`) or of a copy's result (`CopyDay`).
public struct BlockCapacities: Hashable, Sendable {
    /// The block.
    public let block: TimetableBlock
    /// One row per service offered, ordered by service code.
    public let capacities: [CapacityUsage]

    /// Creates an entry.
    public init(block: TimetableBlock, capacities: [CapacityUsage]) {
        self.block = block
        self.capacities = capacities
    }
}

/// A block as a client sees it when choosing where to book one service
/// (`ListBlocks`).
public struct AvailableBlock: Hashable, Sendable {
    /// The block.
    public let block: TimetableBlock
    /// The service asked about.
    public let service: ServiceCode
    /// Slots still free for the service.
    public let remaining: Int
    /// Current price of one booking, minor units.
    public let priceCents: Int64
    /// Currency of `priceCents`.
    public let currency: String
    /// Length of one booking in minutes; it starts at the block's start.
    public let durationMinutes: Int

    /// Creates an entry.
    public init(
        block: TimetableBlock, service: ServiceCode, remaining: Int, priceCents: Int64,
        currency: String, durationMinutes: Int
    ) {
        self.block = block
        self.service = service
        self.remaining = remaining
        self.priceCents = priceCents
        self.currency = currency
        self.durationMinutes = durationMinutes
    }
}

/// What `CopyDay` did: the blocks created on the target date and how many
/// blocks it replaced there.
public struct DayCopy: Hashable, Sendable {
    /// The blocks created on the target date, with their (fresh) use.
    public let blocks: [BlockCapacities]
    /// How many blocks of the target date were deleted first.
    public let replacedBlocks: Int

    /// Creates a result.
    public init(blocks: [BlockCapacities], replacedBlocks: Int) {
        self.blocks = blocks
        self.replacedBlocks = replacedBlocks
    }
}
