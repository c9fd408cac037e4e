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
            try db.run(
                """
                INSERT INTO bookings (client_id, service_code, block_id, date, start_minute,
                    duration_minutes, span_start, span_end, block_label, amount_cents, currency,
                    payment_intent_id, status, payment_state, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                    'confirmed', 'capture_pending', ?13, ?13)
                """,
                [
                    .integer(client.rawValue), .text(code.rawValue), .integer(blockID.rawValue),
                    .text(block.date.description), .int(block.startTime.minutesSinceMidnight),
                    .int(service.durationMinutes), .int(span.start), .int(span.end),
                    .text(block.label.rawValue), .integer(service.priceCents),
                    .text(service.currency), .text(paymentIntentID), .integer(now.unixSeconds),
                ])
            let id = BookingID(rawValue: db.lastInsertRowID)
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
}
