import PortalDomain

extension PortalStore {
    /// Takes a short-lived hold on one slot of a block for a client (the
    /// seed's `create_hold`; the capacity half of `StartCheckout`).
    ///
    /// One `BEGIN IMMEDIATE` transaction, at the clock's now, checks in order:
    /// 1. the block exists (`notFound` / `BLOCK_NOT_FOUND`), the service
    ///    exists (`UNKNOWN_SERVICE`), the client exists (`CLIENT_NOT_FOUND`)
    ///    and the block offers the service (`failedPrecondition` /
    ///    `SERVICE_NOT_OFFERED`);
    /// 2. if the client already has a live hold on this block and service,
    ///    that hold is returned (`isNew == false`): a retry never takes a
    ///    second slot, and gets its hold back even once the block has
    ///    started (the hold was taken in time);
    /// 3. the block has not started in the business's time zone
    ///    (`failedPrecondition` / `BLOCK_STARTED`);
    /// 4. overlap: the client has no active hold or confirmed booking of the
    ///    same service whose span overlaps this one (the same block
    ///    included), where either this block or the other one has
    ///    `allowOverlap == false` (`failedPrecondition` /
    ///    `OVERLAPPING_BOOKING`);
    /// 5. room: confirmed bookings + active holds, re-counted under the write
    ///    lock, leave at least one slot (`failedPrecondition` /
    ///    `CAPACITY_FULL`).
    ///
    /// The hold records the service's current price and lasts
    /// ``Configuration/holdLifetimeSeconds``. An audit entry is written.
    ///
    /// ```swift
    /// let outcome = try await store.createHold(
    ///     for: client, block: block.id, service: try ServiceCode("walk"))
    /// print(outcome.hold.expiresAt)
    /// ```
    public func createHold(for client: ClientID, block blockID: BlockID, service code: ServiceCode)
        async throws -> HoldOutcome
    {
        let lifetime = configuration.holdLifetimeSeconds
        // A new hold changes what `ListBlocks` shows for its date and service only.
        return try await write(declaring: { [calendar] db, now in
            switch try Self.checkHold(db, for: client, block: blockID, service: code, now: now, calendar: calendar) {
            case .existing(let existing):
                return (HoldOutcome(hold: existing, isNew: false), [])
            case .room(let room):
                let hold = try Self.insertHold(
                    db, HoldToken.generate(), for: client, room: room, lifetime: lifetime, now: now,
                    payment: nil)
                return (
                    HoldOutcome(hold: hold, isNew: true),
                    .availability(of: AvailabilityScope(date: room.block.date, service: code))
                )
            }
        })
    }

    /// The hold with this token, in whatever state. With `client`, a hold of
    /// another client is reported as not found (no hint that it exists).
    ///
    /// - Throws: ``PortalError`` `notFound` / `HOLD_NOT_FOUND`.
    public func hold(_ token: HoldToken, of client: ClientID? = nil) async throws -> CapacityHold {
        try await read { db, _ in
            guard
                let hold = try db.row(
                    "SELECT \(StoredRow.holdColumns) FROM holds h WHERE h.token = ?",
                    [.text(token.rawValue)], StoredRow.hold),
                client == nil || hold.client == client
            else {
                throw PortalError.holdNotFound
            }
            return hold
        }
    }

    /// The holds of a block that count against capacity at the clock's now,
    /// oldest first.
    public func activeHolds(in block: BlockID) async throws -> [CapacityHold] {
        try await read { db, now in
            try db.rows(
                """
                SELECT \(StoredRow.holdColumns) FROM holds h
                WHERE h.block_id = ?1 AND h.state = 'active' AND h.expires_at > ?2
                ORDER BY h.created_at, h.hold_id
                """,
                [.integer(block.rawValue), .integer(now.unixSeconds)], StoredRow.hold)
        }
    }

    /// Removes holds whose time has run out, at the clock's now; the server
    /// calls it periodically. Returns how many were removed.
    ///
    /// Expired holds already stop counting against capacity the moment they
    /// expire (every count filters on `expires_at > now`); purging only
    /// tidies up. Each removal writes a `hold.expired` audit entry. Holds
    /// that carry a PaymentIntent are left alone: the checkout sweeper must
    /// first settle their payment with Stripe.
    ///
    /// - Parameter limit: the most holds removed in one call (one short
    ///   transaction), default 1000; call again while it returns `limit`.
    @discardableResult
    public func purgeExpiredHolds(limit: Int = 1000) async throws -> Int {
        let removed = try await write(changes: .availability) { db, now in
            try Self.expireHolds(db, now: now, block: nil, limit: limit)
        }
        if removed > 0 {
            logger.debug("purged expired holds", metadata: ["count": "\(removed)"])
        }
        return removed
    }

    // MARK: Shared steps

    /// A free slot found by ``checkHold(_:for:block:service:now:calendar:)``.
    struct HoldRoom {
        let block: TimetableBlock
        let service: ServiceDefaults
        let span: LocalTimeSpan
        /// Free slots, at least one.
        let remaining: Int
    }

    /// What the checks before taking a hold found.
    enum HoldCheck {
        /// The client's live hold on this block and service (a retry).
        case existing(CapacityHold)
        /// A slot is free for the client.
        case room(HoldRoom)
    }

    /// The checks of ``createHold(for:block:service:)``, in its documented
    /// order, at `now`: throws the refusal, or says whether the client
    /// already holds a slot or one is free. Under the write lock the answer
    /// is final; on a reader's snapshot it is a forecast (checkout's
    /// pre-check, which spares the payment provider hopeless calls).
    static func checkHold(
        _ db: SQLiteConnection, for client: ClientID, block blockID: BlockID, service code: ServiceCode,
        now: Instant, calendar: BusinessCalendar
    ) throws -> HoldCheck {
        try checkHold(
            db, Query.holdContext(db, block: blockID, service: code, client: client, now: now), now: now,
            calendar: calendar)
    }

    /// ``checkHold(_:for:block:service:now:calendar:)`` with its first
    /// reads already done.
    static func checkHold(
        _ db: SQLiteConnection, _ context: HoldContext, now: Instant, calendar: BusinessCalendar
    ) throws -> HoldCheck {
        let (block, service, usage) = try context.required()
        let (blockID, code, client) = (context.blockID, context.serviceCode, context.clientID)
        if let holdID = context.liveHoldID,
            let existing = try db.row(holdByIDSQL, [.integer(holdID)], StoredRow.hold)
        {
            // A retry gets its live hold back even once the block has
            // started: the hold was taken in time, and its payment can
            // still be finalized (docs/checkout.md).
            return .existing(existing)
        }
        guard !calendar.hasStarted(block.date, at: block.startTime, now: now) else {
            throw PortalError.failedPrecondition(
                .blockStarted, "Block \(blockID) has already started.",
                details: ["block_id": "\(blockID)"])
        }
        let span = block.bookingSpan(durationMinutes: service.durationMinutes)
        if try hasOverlap(
            db, client: client, service: code, span: span, allowOverlap: usage.allowOverlap, now: now)
        {
            throw PortalError.failedPrecondition(
                .overlappingBooking,
                "The client already has a \"\(code)\" booking or hold at an overlapping time.",
                details: ["block_id": "\(blockID)", "service_code": code.rawValue])
        }
        guard usage.remaining > 0 else {
            throw PortalError.failedPrecondition(
                .capacityFull, "Block \(blockID) has no \"\(code)\" slots left.",
                details: ["block_id": "\(blockID)", "service_code": code.rawValue])
        }
        return .room(HoldRoom(block: block, service: service, span: span, remaining: usage.remaining))
    }

    /// A hold by its id (the live one ``Query/holdContext(_:block:service:client:now:)`` found).
    private static let holdByIDSQL = "SELECT \(StoredRow.holdColumns) FROM holds h WHERE h.hold_id = ?"

    /// Inserts an active hold on `room` at the service's current price, with
    /// its `hold.created` audit entry (naming the PaymentIntent when the hold
    /// is born paid for).
    static func insertHold(
        _ db: SQLiteConnection, _ token: HoldToken, for client: ClientID, room: HoldRoom, lifetime: Int64,
        now: Instant, payment: (id: String, clientSecret: String)?
    ) throws -> CapacityHold {
        let hold = CapacityHold(
            token: token, block: room.block.id, service: room.service.code, client: client,
            createdAt: now, expiresAt: now.adding(seconds: lifetime), state: .active,
            amountCents: room.service.priceCents, currency: room.service.currency,
            paymentIntentID: payment?.id)
        try db.run(
            """
            INSERT INTO holds (token, block_id, service_code, client_id, span_start, span_end,
                created_at, expires_at, state, amount_cents, currency, updated_at,
                payment_intent_id, client_secret)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'active', ?9, ?10, ?7, ?11, ?12)
            """,
            [
                .text(hold.token.rawValue), .integer(hold.block.rawValue), .text(hold.service.rawValue),
                .integer(client.rawValue), .int(room.span.start), .int(room.span.end),
                .integer(now.unixSeconds), .integer(hold.expiresAt.unixSeconds),
                .integer(hold.amountCents), .text(hold.currency),
                .optionalText(payment?.id), .optionalText(payment?.clientSecret),
            ])
        var detail: [(key: String, value: AuditValue)] = [
            ("block_id", .int(hold.block.rawValue)), ("service_code", .text(hold.service.rawValue)),
            ("client_id", .int(client.rawValue)), ("expires_at", .int(hold.expiresAt.unixSeconds)),
            ("amount_cents", .int(hold.amountCents)), ("currency", .text(hold.currency)),
        ]
        if let payment { detail.append(("payment_intent_id", .text(payment.id))) }
        try AuditLog.append(
            db, entity: "hold", id: String(db.lastInsertRowID), event: "hold.created", at: now, entries: detail)
        return hold
    }

    /// The longest span a hold or booking can occupy, in minutes: a
    /// duration is 1–1440 (the `CHECK`s on `services` and `bookings`), and
    /// schema version 4's triggers refuse a longer `span_end - span_start`.
    static let longestSpanMinutes = 1440

    /// Whether `client` has an active hold or confirmed booking of `service`
    /// overlapping `span` that the overlap rule forbids: `allowOverlap` is
    /// the target block's setting; the other block's own setting counts too.
    /// `excluding` leaves out a booking being moved.
    ///
    /// The overlap is forbidden when either block has `allow_overlap = 0`
    /// (an other row whose block no longer offers the service counts as
    /// forbidding). The cost does not grow with the client's history or the
    /// number of bookings:
    /// - no span is longer than ``longestSpanMinutes``, so only rows starting
    ///   less than that before `span` can reach into it: every scan is
    ///   bounded below by `span.start - longestSpanMinutes`;
    /// - holds are found from the client's active holds in that window (a
    ///   client has few live holds);
    /// - when the target forbids overlap, any overlapping booking counts:
    ///   the client's confirmed bookings in the window, read from an index
    ///   that has both ends of the span;
    /// - when the target allows overlap, only bookings whose own block
    ///   forbids it (or no longer offers the service) count. A booking's
    ///   span lies on its block's date, which never changes, so the check
    ///   walks the blocks of the window's dates and, only for those that
    ///   forbid overlap, looks up the client's bookings in them. Bookings
    ///   without a block (a deleted block's) are looked up directly.
    static func hasOverlap(
        _ db: SQLiteConnection, client: ClientID, service: ServiceCode, span: LocalTimeSpan,
        allowOverlap: Bool, excluding booking: BookingID? = nil, now: Instant
    ) throws -> Bool {
        // Rows with span_start <= this end before span.start.
        let tooEarly = span.start - longestSpanMinutes
        // The dates a block holding an overlapping row can have.
        let firstDay = floorDivide(tooEarly + 1, longestSpanMinutes)
        let lastDay = floorDivide(span.end - 1, longestSpanMinutes)
        let found = try db.integer(
            allowOverlap ? overlapSQL.whereAllowed : overlapSQL.whereRefused,
            [
                .integer(client.rawValue), .text(service.rawValue), .integer(now.unixSeconds),
                .int(span.start), .int(span.end), .int(tooEarly),
                .text(dateText(daysSince1970: firstDay)), .text(dateText(daysSince1970: lastDay)),
                .bool(allowOverlap), .integer(booking?.rawValue ?? 0),
            ])
        return found == 1
    }

    /// ``hasOverlap(_:client:service:span:allowOverlap:excluding:now:)``'s
    /// statement, for a service whose capacity allows overlap and for one
    /// whose does not (built once, not on every check). Parameters: ?1
    /// client, ?2 service, ?3 now, ?4/?5 the span, ?6 its start minus the
    /// longest span, ?7/?8 the dates a block holding an overlapping row can
    /// have, ?9 whether the capacity allows overlap, ?10 a booking to leave
    /// out.
    private static let overlapSQL: (whereAllowed: String, whereRefused: String) = {
        let holdsSQL = """
            SELECT 1 FROM holds h
            LEFT JOIN block_capacities c
                ON c.block_id = h.block_id AND c.service_code = h.service_code
            WHERE h.client_id = ?1 AND h.service_code = ?2 AND h.state = 'active'
              AND h.span_start > ?6 AND h.span_start < ?5 AND h.span_end > ?4
              AND h.expires_at > ?3
              AND (?9 = 0 OR coalesce(c.allow_overlap, 0) = 0)
            """
        // Where overlap is allowed, only bookings in blocks whose capacity
        // refuses it count. INDEXED BY: without statistics the planner would
        // rather walk the client's bookings by span, which is what must be
        // avoided; the join order blocks → capacity → bookings also makes
        // the capacity filter apply before any booking is looked up.
        let bookingsWhereAllowedSQL = """
            SELECT 1 FROM blocks b
            LEFT JOIN block_capacities c ON c.block_id = b.block_id AND c.service_code = ?2
            JOIN bookings k INDEXED BY bookings_by_block_client
                ON k.block_id = b.block_id AND k.service_code = ?2
               AND k.status = 'confirmed' AND k.client_id = ?1
            WHERE b.date BETWEEN ?7 AND ?8 AND coalesce(c.allow_overlap, 0) = 0
              AND k.span_start < ?5 AND k.span_end > ?4 AND k.booking_id <> ?10
            UNION ALL
            SELECT 1 FROM bookings k INDEXED BY bookings_by_block_client
            WHERE k.block_id IS NULL AND k.service_code = ?2
              AND k.status = 'confirmed' AND k.client_id = ?1
              AND k.span_start < ?5 AND k.span_end > ?4 AND k.booking_id <> ?10
            """
        let bookingsWhereRefusedSQL = """
            SELECT 1 FROM bookings k
            WHERE k.client_id = ?1 AND k.service_code = ?2 AND k.status = 'confirmed'
              AND k.span_start > ?6 AND k.span_start < ?5 AND k.span_end > ?4
              AND k.booking_id <> ?10
            """
        return (
            "SELECT EXISTS (\(holdsSQL)) OR EXISTS (\(bookingsWhereAllowedSQL))",
            "SELECT EXISTS (\(holdsSQL)) OR EXISTS (\(bookingsWhereRefusedSQL))"
        )
    }()

    /// `YYYY-MM-DD` of a day number, clamped to the dates a block can have
    /// (0001-01-01 to 9999-12-31), as `blocks.date` compares.
    private static func dateText(daysSince1970 day: Int) -> String {
        let first = LocalDate(year: 1, month: 1, day: 1)!.daysSince1970
        let last = LocalDate(year: 9999, month: 12, day: 31)!.daysSince1970
        return LocalDate(daysSince1970: min(max(day, first), last)).description
    }

    /// `a / b` rounded down (toward minus infinity), for `b > 0`.
    private static func floorDivide(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    /// Deletes up to `limit` expired active holds without a PaymentIntent
    /// (of one block, or all), each with a `hold.expired` audit entry.
    static func expireHolds(_ db: SQLiteConnection, now: Instant, block: BlockID?, limit: Int) throws
        -> Int
    {
        struct Expired {
            let id: Int64
            let block: Int64
            let service: String
            let client: Int64
            let expiresAt: Int64
        }
        // `+payment_intent_id`: search by the live holds' expiry, never by the
        // PaymentIntent's unique index (which the planner may guess selective).
        let expired = try db.rows(
            """
            SELECT hold_id, block_id, service_code, client_id, expires_at FROM holds
            WHERE state = 'active' AND expires_at <= ?1 AND +payment_intent_id IS NULL
              AND (?2 IS NULL OR block_id = ?2)
            ORDER BY expires_at, hold_id
            LIMIT ?3
            """,
            [.integer(now.unixSeconds), block.map { .integer($0.rawValue) } ?? .null, .int(limit)]
        ) { row in
            Expired(
                id: row.int64(0), block: row.int64(1), service: row.text(2), client: row.int64(3),
                expiresAt: row.int64(4))
        }
        for hold in expired {
            try AuditLog.append(
                db, entity: "hold", id: hold.id, event: "hold.expired", at: now,
                [
                    "block_id": .int(hold.block), "service_code": .text(hold.service),
                    "client_id": .int(hold.client), "expires_at": .int(hold.expiresAt),
                ])
            try db.run("DELETE FROM holds WHERE hold_id = ?", [.integer(hold.id)])
        }
        return expired.count
    }
}
