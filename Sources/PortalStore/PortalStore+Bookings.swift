import PortalDomain

extension PortalStore {
    /// A day's bookings, in start-time then id order (`ListBookings`),
    /// confirmed and cancelled alike (see each one's status).
    ///
    /// Those of the day's blocks, and those that lost their block (schema
    /// 10: a booking lies on its block's date, so there is no index of
    /// every booking by date). `ORDER BY 6, 1`: `start_minute`, then
    /// `booking_id` (``StoredRow/bookingColumns``). A capture being recorded
    /// in the background shows as done (``CaptureRecords``).
    public func bookings(on date: LocalDate) async throws -> [Booking] {
        try await read { db, _ in
            try db.rows(
                """
                SELECT \(StoredRow.bookingColumns) FROM blocks b JOIN bookings k ON k.block_id = b.block_id
                WHERE b.date = ?1 AND k.date = ?1
                UNION ALL
                SELECT \(StoredRow.bookingColumns) FROM bookings k
                WHERE k.block_id IS NULL AND k.date = ?1
                ORDER BY 6, 1
                """,
                [.text(date.description)], StoredRow.booking)
        }.map(captureRecords.showing)
    }

    /// Writes a confirmed booking directly, without a hold or a payment
    /// check — for tests of the rules that refuse changes to blocks with
    /// bookings. The checkout issue adds the real path (hold → verified
    /// payment → booking).
    ///
    /// Even this path keeps the capacity invariant: in one `BEGIN IMMEDIATE`
    /// transaction it re-counts bookings and active holds and applies the
    /// overlap rule, like ``createHold(for:block:service:)`` (it does not
    /// refuse started blocks, so tests can book the past).
    ///
    /// - Throws: ``PortalError`` as `createHold`, and `alreadyExists` /
    ///   `PAYMENT_ALREADY_USED` for a payment reference already booked.
    package func insertConfirmedBookingForTesting(
        for client: ClientID, block blockID: BlockID, service code: ServiceCode,
        paymentIntentID: String
    ) async throws -> Booking {
        try await write { db, now in
            let block = try Query.block(db, blockID)
            let service = try Query.service(db, code)
            try Query.requireClient(db, client)
            guard let usage = try Query.usage(db, block: blockID, service: code, now: now) else {
                throw PortalError.serviceNotOffered(code, in: blockID)
            }
            let span = block.bookingSpan(durationMinutes: service.durationMinutes)
            if try Self.hasOverlap(
                db, client: client, service: code, span: span, allowOverlap: usage.allowOverlap,
                now: now)
            {
                throw PortalError.failedPrecondition(
                    .overlappingBooking,
                    "The client already has a \"\(code)\" booking or hold at an overlapping time.")
            }
            guard usage.remaining > 0 else {
                throw PortalError.failedPrecondition(
                    .capacityFull, "Block \(blockID) has no \"\(code)\" slots left.")
            }
            guard
                try db.integer(
                    "SELECT 1 FROM bookings WHERE payment_intent_id = ?", [.text(paymentIntentID)]) == nil
            else {
                throw PortalError(
                    .alreadyExists, .paymentAlreadyUsed, "This payment already paid for a booking.")
            }
            let id = try Self.insertConfirmedBooking(
                db, client: client, service: service, block: block, holdID: nil, span: span,
                amountCents: service.priceCents, currency: service.currency,
                paymentIntentID: paymentIntentID, paymentState: .capturePending, now: now)
            try AuditLog.append(
                db, entity: "booking", id: id.rawValue, event: "booking.created", at: now,
                [
                    "block_id": .int(blockID.rawValue), "service_code": .text(code.rawValue),
                    "client_id": .int(client.rawValue), "amount_cents": .int(service.priceCents),
                    "currency": .text(service.currency), "source": .text("direct"),
                ])
            return Booking(
                id: id, client: client, service: code, block: blockID, date: block.date,
                startTime: block.startTime, durationMinutes: service.durationMinutes,
                blockLabel: block.label.rawValue, amountCents: service.priceCents,
                currency: service.currency, paymentIntentID: paymentIntentID, status: .confirmed,
                paymentState: .capturePending, createdAt: now)
        }
    }

    /// Inserts a confirmed booking of `service` in `block` and raises the
    /// block's `booked` count for that service, in the caller's
    /// transaction — the one way Portal adds a booking, so that the count
    /// always equals the confirmed bookings (schema 12: no trigger raises
    /// it; updates and deletes of bookings still keep it through theirs).
    /// The booking lies on its block's date and starts at its start; a
    /// block that no longer offers the service has no count to raise.
    static func insertConfirmedBooking(
        _ db: SQLiteConnection, client: ClientID, service: ServiceDefaults, block: TimetableBlock,
        holdID: Int64?, span: LocalTimeSpan, amountCents: Int64, currency: String,
        paymentIntentID: String, paymentState: PaymentState, now: Instant
    ) throws -> BookingID {
        try db.run(
            insertBookingSQL,
            [
                .integer(client.rawValue), .text(service.code.rawValue), .integer(block.id.rawValue),
                holdID.map { .integer($0) } ?? .null, .text(block.date.description),
                .int(block.startTime.minutesSinceMidnight), .int(service.durationMinutes),
                .int(span.start), .int(span.end), .text(block.label.rawValue), .integer(amountCents),
                .text(currency), .text(paymentIntentID), .text(paymentState.rawValue),
                .integer(now.unixSeconds),
            ])
        let id = BookingID(rawValue: db.lastInsertRowID)
        try db.run(raiseBookedSQL, [.integer(block.id.rawValue), .text(service.code.rawValue)])
        return id
    }

    private static let insertBookingSQL = """
        INSERT INTO bookings (client_id, service_code, block_id, hold_id, date, start_minute,
            duration_minutes, span_start, span_end, block_label, amount_cents, currency,
            payment_intent_id, status, payment_state, created_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'confirmed', ?14, ?15, ?15)
        """

    /// What `bookings_booked_on_insert` (schema 4 to 11) ran: ?1 block, ?2 service.
    private static let raiseBookedSQL = """
        UPDATE block_capacities SET booked = booked + 1 WHERE block_id = ?1 AND service_code = ?2
        """
}
