import PortalDomain

/// The SQL building blocks shared by the store's operations. Each runs on a
/// connection the caller already holds, inside the caller's transaction.
enum Query {
    // MARK: Counting (the capacity invariant's arithmetic)

    /// Holds of a service in a block that count at `now`: active and unexpired.
    static let heldSQL = """
        SELECT count(*) FROM holds
        WHERE block_id = ?1 AND service_code = ?2 AND state = 'active' AND expires_at > ?3
        """

    /// The capacity row of a service in a block with its use at `now`, or
    /// `nil` when the block does not offer the service.
    ///
    /// Confirmed bookings come from the row's `booked` counter, which the
    /// schema's triggers keep equal to their count (schema version 4), so
    /// the cost does not grow with the block's bookings; active holds are
    /// counted (at most the capacity's worth are unexpired).
    static func usage(
        _ db: SQLiteConnection, block: BlockID, service: ServiceCode, now: Instant
    ) throws -> CapacityUsage? {
        guard
            let (capacity, allowOverlap, booked) = try db.row(
                """
                SELECT capacity, allow_overlap, booked FROM block_capacities
                WHERE block_id = ? AND service_code = ?
                """,
                [.integer(block.rawValue), .text(service.rawValue)],
                { ($0.int(0), $0.bool(1), $0.int(2)) })
        else { return nil }
        let held = try db.integer(
            heldSQL, [.integer(block.rawValue), .text(service.rawValue), .integer(now.unixSeconds)]) ?? 0
        return CapacityUsage(
            service: service, capacity: capacity, allowOverlap: allowOverlap, booked: booked,
            held: Int(held))
    }

    /// Whether a block has anything that must keep it as it is: a confirmed
    /// booking, an active hold, or a hold whose payment is still unresolved
    /// (expired, but a PaymentIntent exists that the sweeper must settle).
    /// With `service`, only that service's bookings and holds count.
    static func isInUse(
        _ db: SQLiteConnection, block: BlockID, service: ServiceCode? = nil, now: Instant
    ) throws -> Bool {
        let serviceText: SQLiteValue = service.map { .text($0.rawValue) } ?? .null
        let used = try db.integer(
            """
            SELECT EXISTS (
                SELECT 1 FROM bookings
                WHERE block_id = ?1 AND (?2 IS NULL OR service_code = ?2) AND status = 'confirmed'
            ) OR EXISTS (
                SELECT 1 FROM holds
                WHERE block_id = ?1 AND (?2 IS NULL OR service_code = ?2) AND state = 'active'
                  AND (expires_at > ?3 OR payment_intent_id IS NOT NULL)
            )
            """,
            [.integer(block.rawValue), serviceText, .integer(now.unixSeconds)])
        return used == 1
    }

    /// The blocks of a date that offer a service, with remaining capacity at
    /// `now`, in start-time then id order.
    static func availableBlocks(
        _ db: SQLiteConnection, date: LocalDate, service: ServiceCode, now: Instant
    ) throws -> [AvailableBlock] {
        let defaults = try Query.service(db, service)
        return try db.rows(
            """
            SELECT \(StoredRow.blockColumns), c.capacity, c.booked,
                (SELECT count(*) FROM holds h
                 WHERE h.block_id = b.block_id AND h.service_code = ?2
                   AND h.state = 'active' AND h.expires_at > ?3)
            FROM blocks b JOIN block_capacities c
                ON c.block_id = b.block_id AND c.service_code = ?2
            WHERE b.date = ?1
            ORDER BY b.start_minute, b.block_id
            """,
            [.text(date.description), .text(service.rawValue), .integer(now.unixSeconds)]
        ) { row in
            AvailableBlock(
                block: try StoredRow.block(row), service: service,
                remaining: max(0, row.int(5) - row.int(6) - row.int(7)),
                priceCents: defaults.priceCents, currency: defaults.currency,
                durationMinutes: defaults.durationMinutes)
        }
    }

    /// What the checks before a hold read about its block, service, client
    /// and capacity — one statement for what were five point look-ups (perf:
    /// these checks run twice per `StartCheckout`, on a reader's snapshot
    /// and again under the write lock). Each part is `nil` (or `false`)
    /// when missing; ``HoldContext/required()`` turns that into the precise
    /// refusal, in the checks' documented order.
    static func holdContext(
        _ db: SQLiteConnection, block: BlockID, service code: ServiceCode, client: ClientID, now: Instant
    ) throws -> HoldContext {
        let context = try db.row(
            holdContextSQL,
            [.integer(block.rawValue), .text(code.rawValue), .integer(now.unixSeconds), .integer(client.rawValue)]
        ) { row in
            HoldContext(
                blockID: block, serviceCode: code, clientID: client,
                block: row.isNull(0) ? nil : try StoredRow.block(row, at: 0),
                service: row.isNull(5) ? nil : try StoredRow.serviceDefaults(row, at: 5),
                clientExists: row.bool(10),
                usage: row.isNull(11)
                    ? nil
                    : CapacityUsage(
                        service: code, capacity: row.int(11), allowOverlap: row.bool(12), booked: row.int(13),
                        held: row.int(14)),
                liveHoldID: row.isNull(15) ? nil : row.int64(15))
        }
        guard let context else { throw StoredDataError(what: "hold context") }
        return context
    }

    /// ``holdContext(_:block:service:client:now:)``'s statement (built once):
    /// ?1 block, ?2 service, ?3 now — as in ``heldSQL``, whose count of the
    /// holds that count it embeds — ?4 client.
    ///
    /// The last column is the client's live hold on the block and service
    /// (a retry's), read from the same entries of `holds_active_by_block`
    /// as the count: the newest by id (ids only grow, so the one taken
    /// last; there is never more than one — a hold is only taken when the
    /// client has none live there). `INDEXED BY`: without it the planner
    /// walks the block's every hold from the highest id down (`max`),
    /// which for a client with no live hold — the usual case — reads all
    /// of them.
    private static let holdContextSQL = """
        SELECT b.block_id, b.date, b.start_minute, b.end_minute, b.label,
            s.service_code, s.duration_minutes, s.price_cents, s.currency, s.notes,
            EXISTS (SELECT 1 FROM clients WHERE client_id = ?4),
            c.capacity, c.allow_overlap, c.booked,
            (\(heldSQL)),
            (SELECT max(hold_id) FROM holds INDEXED BY holds_active_by_block
             WHERE block_id = ?1 AND service_code = ?2 AND state = 'active' AND expires_at > ?3
               AND client_id = ?4)
        FROM (SELECT ?1 AS block_id, ?2 AS service_code) AS wanted
        LEFT JOIN blocks b ON b.block_id = wanted.block_id
        LEFT JOIN services s ON s.service_code = wanted.service_code
        LEFT JOIN block_capacities c
            ON c.block_id = wanted.block_id AND c.service_code = wanted.service_code
        """

    // MARK: Loading with precise errors

    /// The block `id`; `BLOCK_NOT_FOUND` naming `field` (the request's name
    /// for it) when there is none.
    static func block(_ db: SQLiteConnection, _ id: BlockID, field: String = "block_id") throws -> TimetableBlock {
        guard
            let block = try db.row(
                "SELECT \(StoredRow.blockColumns) FROM blocks b WHERE b.block_id = ?",
                [.integer(id.rawValue)], { try StoredRow.block($0) })
        else { throw PortalError.blockNotFound(id, field: field) }
        return block
    }

    static func service(_ db: SQLiteConnection, _ code: ServiceCode) throws -> ServiceDefaults {
        guard
            let service = try db.row(
                "SELECT \(StoredRow.serviceColumns) FROM services WHERE service_code = ?",
                [.text(code.rawValue)], { try StoredRow.serviceDefaults($0) })
        else { throw PortalError.unknownService(code) }
        return service
    }

    /// The session's client must still exist.
    static func requireClient(_ db: SQLiteConnection, _ id: ClientID) throws {
        guard try db.integer("SELECT 1 FROM clients WHERE client_id = ?", [.integer(id.rawValue)]) != nil
        else { throw PortalError.clientNotFound(id, field: nil) }
    }

    /// The blocks of a date with every capacity and its use, in start-time
    /// then id order, services by code.
    static func day(_ db: SQLiteConnection, _ date: LocalDate, now: Instant) throws -> [BlockCapacities] {
        struct Line {
            let block: TimetableBlock
            let usage: CapacityUsage?
        }
        let lines = try db.rows(
            """
            SELECT \(StoredRow.blockColumns), c.service_code, c.capacity, c.allow_overlap, c.booked,
                (SELECT count(*) FROM holds h
                 WHERE h.block_id = b.block_id AND h.service_code = c.service_code
                   AND h.state = 'active' AND h.expires_at > ?2)
            FROM blocks b LEFT JOIN block_capacities c ON c.block_id = b.block_id
            WHERE b.date = ?1
            ORDER BY b.start_minute, b.block_id, c.service_code
            """,
            [.text(date.description), .integer(now.unixSeconds)]
        ) { row in
            Line(
                block: try StoredRow.block(row),
                usage: row.isNull(5)
                    ? nil
                    : CapacityUsage(
                        service: try StoredRow.service(row.text(5)), capacity: row.int(6),
                        allowOverlap: row.bool(7), booked: row.int(8), held: row.int(9)))
        }
        var result: [BlockCapacities] = []
        var current: (block: TimetableBlock, rows: [CapacityUsage])?
        for line in lines {
            if let open = current, open.block.id != line.block.id {
                result.append(BlockCapacities(block: open.block, capacities: open.rows))
                current = nil
            }
            if current == nil { current = (line.block, []) }
            if let usage = line.usage { current?.rows.append(usage) }
        }
        if let open = current {
            result.append(BlockCapacities(block: open.block, capacities: open.rows))
        }
        return result
    }
}

extension PortalError {
    static func blockNotFound(_ id: BlockID, field: String = "block_id") -> PortalError {
        .notFound(.blockNotFound, "Block \(id) does not exist.", details: ["field": field, "block_id": "\(id)"])
    }

    static func unknownService(_ code: ServiceCode) -> PortalError {
        .notFound(
            .unknownService, "No service has the code \"\(code)\".",
            details: ["field": "service_code", "service_code": code.rawValue])
    }

    static func serviceNotOffered(_ code: ServiceCode, in block: BlockID) -> PortalError {
        .failedPrecondition(
            .serviceNotOffered, "Block \(block) does not offer the service \"\(code)\".",
            details: ["block_id": "\(block)", "service_code": code.rawValue])
    }
}

/// What ``Query/holdContext(_:block:service:client:now:)`` read.
struct HoldContext {
    let blockID: BlockID
    let serviceCode: ServiceCode
    let clientID: ClientID
    let block: TimetableBlock?
    let service: ServiceDefaults?
    let clientExists: Bool
    /// The capacity row with its use; `nil` when the block does not offer the service.
    let usage: CapacityUsage?
    /// The id of the client's live hold on this block and service, if any.
    let liveHoldID: Int64?

    /// The block, the service and the usage row, or the refusal for the
    /// first that is missing: `BLOCK_NOT_FOUND`, `UNKNOWN_SERVICE`,
    /// `CLIENT_NOT_FOUND` (as ``Query/block(_:_:field:)``,
    /// ``Query/service(_:_:)`` and ``Query/requireClient(_:_:)`` one after
    /// another), then `SERVICE_NOT_OFFERED`.
    func required() throws -> (block: TimetableBlock, service: ServiceDefaults, usage: CapacityUsage) {
        guard let block else { throw PortalError.blockNotFound(blockID) }
        guard let service else { throw PortalError.unknownService(serviceCode) }
        guard clientExists else { throw PortalError.clientNotFound(clientID, field: nil) }
        guard let usage else { throw PortalError.serviceNotOffered(serviceCode, in: blockID) }
        return (block, service, usage)
    }
}
