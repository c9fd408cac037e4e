import PortalDomain

extension PortalStore {
    // MARK: Blocks

    /// Adds a block to a date (`CreateBlock`).
    ///
    /// ```swift
    /// let block = try await store.createBlock(
    ///     on: try LocalDate("2025-10-08"),
    ///     times: try BlockTimes(start: "09:00", end: "12:00"),
    ///     label: try BlockLabel("Morning Run"))
    /// ```
    public func createBlock(on date: LocalDate, times: BlockTimes, label: BlockLabel)
        async throws -> TimetableBlock
    {
        try await write { db, now in
            try Self.insertBlock(db, date: date, times: times, label: label, now: now)
        }
    }

    /// One block.
    ///
    /// - Throws: ``PortalError`` `notFound` / `BLOCK_NOT_FOUND`.
    public func block(_ id: BlockID) async throws -> TimetableBlock {
        try await read { db, _ in try Query.block(db, id) }
    }

    /// Changes a block's times or label (`UpdateBlock`); `nil` leaves a
    /// field as it is.
    ///
    /// The label can always change (bookings keep the label they were made
    /// under). The times cannot change while the block has confirmed
    /// bookings or active holds, since those were sold for the old times.
    ///
    /// - Throws: ``PortalError``: `BLOCK_NOT_FOUND`; `INVALID_TIME_RANGE` when
    ///   the resulting end is not after the start (field `end_time`, or
    ///   `start_time` when only the start was given); `failedPrecondition` /
    ///   `BLOCK_IN_USE` when the times would change on a block in use.
    public func updateBlock(
        _ id: BlockID, start: TimeOfDay? = nil, end: TimeOfDay? = nil, label: BlockLabel? = nil
    ) async throws -> TimetableBlock {
        try await write { db, now in
            let old = try Query.block(db, id)
            let times: BlockTimes
            do throws(PortalError) {
                times = try BlockTimes(start: start ?? old.startTime, end: end ?? old.endTime)
            } catch var refusal {
                // Name the field the caller sent: a new start after the
                // stored end is the start's fault.
                if end == nil { refusal.details["field"] = "start_time" }
                throw refusal
            }
            if times != old.times, try Query.isInUse(db, block: id, now: now) {
                throw PortalError.blockInUse(
                    id, "The times of block \(id) cannot change while it has \(Self.inUseBy).")
            }
            let new = TimetableBlock(id: id, date: old.date, times: times, label: label ?? old.label)
            guard new != old else { return old }
            try db.run(
                """
                UPDATE blocks SET start_minute = ?, end_minute = ?, label = ?, updated_at = ?
                WHERE block_id = ?
                """,
                [
                    .int(times.start.minutesSinceMidnight), .int(times.end.minutesSinceMidnight),
                    .text(new.label.rawValue), .integer(now.unixSeconds), .integer(id.rawValue),
                ])
            try AuditLog.append(
                db, entity: "block", id: id.rawValue, event: "block.updated", at: now,
                [
                    "start_time": .text(times.start.description),
                    "end_time": .text(times.end.description), "label": .text(new.label.rawValue),
                ])
            return new
        }
    }

    /// Deletes a block and its capacities (`DeleteBlock`).
    ///
    /// - Throws: ``PortalError``: `BLOCK_NOT_FOUND`; `failedPrecondition` /
    ///   `BLOCK_IN_USE` while it has confirmed bookings or active holds.
    public func deleteBlock(_ id: BlockID) async throws {
        try await write { db, now in
            _ = try Query.block(db, id)
            if try Query.isInUse(db, block: id, now: now) {
                throw PortalError.blockInUse(
                    id, "Block \(id) has \(Self.inUseBy) and cannot be deleted.")
            }
            try Self.removeBlock(db, id, now: now, event: "block.deleted")
        }
    }

    // MARK: Capacities

    /// Sets the capacity of one service in one block, creating or replacing
    /// it (`SetCapacity`). Lowering it below what is already booked keeps the
    /// bookings; `remaining` shows 0.
    ///
    /// - Throws: ``PortalError``: `BLOCK_NOT_FOUND`, `UNKNOWN_SERVICE`.
    public func setCapacity(_ setting: BlockCapacity) async throws -> CapacityUsage {
        try await write { db, now in
            _ = try Query.block(db, setting.block)
            _ = try Query.service(db, setting.service)
            try Self.upsertCapacity(db, setting, now: now)
            try AuditLog.append(
                db, entity: "block", id: setting.block.rawValue, event: "capacity.set", at: now,
                [
                    "service_code": .text(setting.service.rawValue),
                    "capacity": .int(setting.capacity), "allow_overlap": .bool(setting.allowOverlap),
                ])
            guard let usage = try Query.usage(db, block: setting.block, service: setting.service, now: now)
            else { throw StoredDataError(what: "capacity") }
            return usage
        }
    }

    /// Stops offering a service in a block (`RemoveCapacity`).
    ///
    /// - Throws: ``PortalError``: `BLOCK_NOT_FOUND`, `UNKNOWN_SERVICE`,
    ///   `notFound` / `CAPACITY_NOT_FOUND` when the block does not offer the
    ///   service; `failedPrecondition` / `CAPACITY_IN_USE` while the service
    ///   has confirmed bookings or active holds in the block.
    public func removeCapacity(of service: ServiceCode, from block: BlockID) async throws {
        try await write { db, now in
            _ = try Query.block(db, block)
            _ = try Query.service(db, service)
            guard try Query.usage(db, block: block, service: service, now: now) != nil else {
                throw PortalError.notFound(
                    .capacityNotFound, "Block \(block) does not offer the service \"\(service)\".",
                    details: ["block_id": "\(block)", "service_code": service.rawValue])
            }
            if try Query.isInUse(db, block: block, service: service, now: now) {
                throw PortalError.failedPrecondition(
                    .capacityInUse,
                    "The service \"\(service)\" has \(Self.inUseBy) in block \(block).",
                    details: ["block_id": "\(block)", "service_code": service.rawValue])
            }
            try db.run(
                "DELETE FROM block_capacities WHERE block_id = ? AND service_code = ?",
                [.integer(block.rawValue), .text(service.rawValue)])
            try AuditLog.append(
                db, entity: "block", id: block.rawValue, event: "capacity.removed", at: now,
                ["service_code": .text(service.rawValue)])
        }
    }

    /// The use of one service in one block at the clock's now.
    ///
    /// - Throws: ``PortalError``: `BLOCK_NOT_FOUND`, `UNKNOWN_SERVICE`,
    ///   `failedPrecondition` / `SERVICE_NOT_OFFERED`.
    public func capacityUsage(of block: BlockID, for service: ServiceCode) async throws
        -> CapacityUsage
    {
        try await read { db, now in
            _ = try Query.block(db, block)
            _ = try Query.service(db, service)
            guard let usage = try Query.usage(db, block: block, service: service, now: now) else {
                throw PortalError.serviceNotOffered(service, in: block)
            }
            return usage
        }
    }

    /// Slots still free for a service in a block: `max(0, capacity −
    /// confirmed bookings − active holds)` (the seed's
    /// `block_remaining_capacity`). Expired holds never count, purged or not.
    ///
    /// - Throws: as ``capacityUsage(of:for:)``.
    public func remainingCapacity(of block: BlockID, for service: ServiceCode) async throws -> Int {
        try await capacityUsage(of: block, for: service).remaining
    }

    // MARK: Days

    /// A whole day (`GetDay`): its blocks in start-time then id order, each
    /// with capacity, booked, held and remaining per service, services by code.
    public func day(_ date: LocalDate) async throws -> [BlockCapacities] {
        try await read { db, now in try Query.day(db, date, now: now) }
    }

    /// The blocks of a date that offer a service, with remaining capacity,
    /// price and duration, in start-time then id order (`ListBlocks`, the
    /// seed's `list_blocks_for_date`). Blocks with no room left are included
    /// with `remaining = 0`.
    ///
    /// - Throws: ``PortalError`` `notFound` / `UNKNOWN_SERVICE`.
    public func availableBlocks(on date: LocalDate, for service: ServiceCode) async throws
        -> [AvailableBlock]
    {
        try await read { db, now in
            try Query.availableBlocks(db, date: date, service: service, now: now)
        }
    }

    /// Copies one day's blocks and capacities onto another date (`CopyDay`);
    /// bookings and holds are not copied. "Copy yesterday" is
    /// `copyDay(from: today.previousDay, to: today, replace: false)`.
    ///
    /// All or nothing, in one transaction:
    /// - `to == from` → `invalidArgument` / `SAME_DAY` (field `to_date`);
    /// - the source day has no blocks → `failedPrecondition` /
    ///   `SOURCE_DAY_EMPTY` (so a mistaken copy never wipes a day);
    /// - the target day has blocks and `replace` is false →
    ///   `failedPrecondition` / `DAY_NOT_EMPTY`;
    /// - `replace` is true and a target block has confirmed bookings or
    ///   active holds → `failedPrecondition` / `BLOCK_IN_USE`, nothing changes;
    /// - otherwise the target's blocks are deleted and the copies created.
    public func copyDay(from source: LocalDate, to target: LocalDate, replace: Bool) async throws
        -> DayCopy
    {
        guard source != target else {
            throw PortalError.invalidArgument(
                .sameDay, "A day cannot be copied onto itself.", field: "to_date")
        }
        return try await write { db, now in
            let sourceDay = try Query.day(db, source, now: now)
            guard !sourceDay.isEmpty else {
                throw PortalError.failedPrecondition(
                    .sourceDayEmpty, "\(source) has no blocks to copy.",
                    details: ["from_date": source.description])
            }
            let targetBlocks = try Query.day(db, target, now: now).map(\.block)
            if !targetBlocks.isEmpty {
                guard replace else {
                    throw PortalError.failedPrecondition(
                        .dayNotEmpty,
                        "\(target) already has \(targetBlocks.count) block(s); copy with replace to replace them.",
                        details: ["to_date": target.description])
                }
                for block in targetBlocks {
                    guard try Query.isInUse(db, block: block.id, now: now) else { continue }
                    throw PortalError.blockInUse(
                        block.id,
                        "Block \(block.id) on \(target) has \(Self.inUseBy); nothing was replaced.")
                }
                for block in targetBlocks {
                    try Self.removeBlock(db, block.id, now: now, event: "block.replaced")
                }
            }
            var created: [BlockCapacities] = []
            for entry in sourceDay {
                let block = try Self.insertBlock(
                    db, date: target, times: entry.block.times, label: entry.block.label, now: now)
                for usage in entry.capacities {
                    try Self.upsertCapacity(
                        db,
                        BlockCapacity(
                            block: block.id, service: usage.service, capacity: usage.capacity,
                            allowOverlap: usage.allowOverlap),
                        now: now)
                }
                created.append(
                    BlockCapacities(
                        block: block,
                        capacities: entry.capacities.map {
                            CapacityUsage(
                                service: $0.service, capacity: $0.capacity,
                                allowOverlap: $0.allowOverlap, booked: 0, held: 0)
                        }))
            }
            try AuditLog.append(
                db, entity: "day", id: target.description, event: "day.copied", at: now,
                [
                    "from_date": .text(source.description), "created_blocks": .int(created.count),
                    "replaced_blocks": .int(targetBlocks.count),
                ])
            return DayCopy(blocks: created, replacedBlocks: targetBlocks.count)
        }
    }

    // MARK: Shared steps

    static func insertBlock(
        _ db: SQLiteConnection, date: LocalDate, times: BlockTimes, label: BlockLabel, now: Instant
    ) throws -> TimetableBlock {
        try db.run(
            """
            INSERT INTO blocks (date, start_minute, end_minute, label, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?5)
            """,
            [
                .text(date.description), .int(times.start.minutesSinceMidnight),
                .int(times.end.minutesSinceMidnight), .text(label.rawValue),
                .integer(now.unixSeconds),
            ])
        let id = BlockID(rawValue: db.lastInsertRowID)
        try AuditLog.append(
            db, entity: "block", id: id.rawValue, event: "block.created", at: now,
            [
                "date": .text(date.description), "start_time": .text(times.start.description),
                "end_time": .text(times.end.description), "label": .text(label.rawValue),
            ])
        return TimetableBlock(id: id, date: date, times: times, label: label)
    }

    static func upsertCapacity(_ db: SQLiteConnection, _ setting: BlockCapacity, now: Instant) throws {
        try db.run(
            """
            INSERT INTO block_capacities (block_id, service_code, capacity, allow_overlap, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (block_id, service_code) DO UPDATE SET
                capacity = excluded.capacity,
                allow_overlap = excluded.allow_overlap,
                updated_at = excluded.updated_at
            """,
            [
                .integer(setting.block.rawValue), .text(setting.service.rawValue),
                .int(setting.capacity), .bool(setting.allowOverlap), .integer(now.unixSeconds),
            ])
    }

    /// Deletes a block the caller has checked is not in use. Its finished
    /// holds go with it (their history stays in the audit log); expired holds
    /// still marked active get their `hold.expired` entry first.
    static func removeBlock(_ db: SQLiteConnection, _ id: BlockID, now: Instant, event: String) throws {
        _ = try expireHolds(db, now: now, block: id, limit: Int.max)
        try db.run("DELETE FROM blocks WHERE block_id = ?", [.integer(id.rawValue)])
        try AuditLog.append(db, entity: "block", id: id.rawValue, event: event, at: now)
    }
}

extension PortalStore {
    /// What keeps a block (or a service's capacity in it) as it is, as the
    /// refusals say it (``Query/isInUse(_:block:service:now:)``).
    static let inUseBy = "bookings or active holds (an expired hold counts until its payment is settled)"
}

extension PortalError {
    static func blockInUse(_ id: BlockID, _ message: String) -> PortalError {
        .failedPrecondition(.blockInUse, message, details: ["block_id": "\(id)"])
    }
}
