import PortalDomain

extension PortalStore {
    /// Moves one of `client`'s bookings to another block (`RescheduleBooking`).
    ///
    /// One `BEGIN IMMEDIATE` transaction, at the clock's now, checks in order:
    /// 1. the client may reschedule its own bookings (`permissionDenied` /
    ///    `RESCHEDULE_NOT_ALLOWED`);
    /// 2. the booking exists *and is the client's* (`notFound` /
    ///    `BOOKING_NOT_FOUND` either way — never a hint that another
    ///    client's booking exists) and is confirmed (`failedPrecondition` /
    ///    `BOOKING_NOT_CONFIRMED`);
    /// 3. moving to the block it is already in changes nothing and returns
    ///    the booking as it is (so a retried call succeeds);
    /// 4. the booking has not started (`failedPrecondition` / `BLOCK_STARTED`,
    ///    detail `booking_id`);
    /// 5. the new block exists (`notFound` / `BLOCK_NOT_FOUND`), offers the
    ///    booking's service (`failedPrecondition` / `SERVICE_NOT_OFFERED`) and
    ///    has not started (`BLOCK_STARTED`, detail `block_id`);
    /// 6. overlap: unless allowed, the client has no other booking or active
    ///    hold of the service overlapping the new time (`OVERLAPPING_BOOKING`);
    /// 7. room: confirmed bookings + active holds of the new block, re-counted
    ///    under the write lock, leave a slot (`CAPACITY_FULL`).
    ///
    /// The booking then takes the new block, its date, start and label; it
    /// keeps its duration (what was bought), price, currency, payment and
    /// status. It leaves the old block in the same transaction, so both
    /// blocks keep `bookings + active holds ≤ capacity`. An audit entry
    /// records where it moved from and to.
    public func rescheduleBooking(_ bookingID: BookingID, to newBlockID: BlockID, for client: ClientID)
        async throws -> Booking
    {
        try await write { [calendar] db, now in
            guard
                let canReschedule = try db.row(
                    "SELECT can_self_reschedule FROM clients WHERE client_id = ?",
                    [.integer(client.rawValue)], { $0.bool(0) })
            else { throw PortalError.clientNotFound(client, field: nil) }
            guard canReschedule else {
                throw PortalError(
                    .permissionDenied, .rescheduleNotAllowed,
                    "This client may not reschedule its own bookings.")
            }
            guard
                let booking = try db.row(
                    "SELECT \(StoredRow.bookingColumns) FROM bookings k WHERE k.booking_id = ? AND k.client_id = ?",
                    [.integer(bookingID.rawValue), .integer(client.rawValue)], StoredRow.booking)
            else { throw PortalError.bookingNotFound(bookingID) }
            guard booking.status == .confirmed, let oldBlockID = booking.block else {
                throw PortalError.failedPrecondition(
                    .bookingNotConfirmed, "Booking \(bookingID) is cancelled and cannot be moved.",
                    details: ["booking_id": "\(bookingID)"])
            }
            if oldBlockID == newBlockID { return booking }
            guard !calendar.hasStarted(booking.date, at: booking.startTime, now: now) else {
                throw PortalError.failedPrecondition(
                    .blockStarted, "Booking \(bookingID) has already started.",
                    details: ["booking_id": "\(bookingID)"])
            }
            let block = try Query.block(db, newBlockID, field: "new_block_id")
            guard let usage = try Query.usage(db, block: newBlockID, service: booking.service, now: now)
            else { throw PortalError.serviceNotOffered(booking.service, in: newBlockID) }
            guard !calendar.hasStarted(block.date, at: block.startTime, now: now) else {
                throw PortalError.failedPrecondition(
                    .blockStarted, "Block \(newBlockID) has already started.",
                    details: ["block_id": "\(newBlockID)"])
            }
            let span = block.bookingSpan(durationMinutes: booking.durationMinutes)
            if try Self.hasOverlap(
                db, client: client, service: booking.service, span: span,
                allowOverlap: usage.allowOverlap, excluding: bookingID, now: now)
            {
                throw PortalError.failedPrecondition(
                    .overlappingBooking,
                    "The client already has a \"\(booking.service)\" booking or hold at an overlapping time.",
                    details: ["block_id": "\(newBlockID)", "service_code": booking.service.rawValue])
            }
            guard usage.remaining > 0 else {
                throw PortalError.failedPrecondition(
                    .capacityFull, "Block \(newBlockID) has no \"\(booking.service)\" slots left.",
                    details: ["block_id": "\(newBlockID)", "service_code": booking.service.rawValue])
            }
            try db.run(
                """
                UPDATE bookings SET block_id = ?2, date = ?3, start_minute = ?4, span_start = ?5,
                    span_end = ?6, block_label = ?7, updated_at = ?8
                WHERE booking_id = ?1
                """,
                [
                    .integer(bookingID.rawValue), .integer(newBlockID.rawValue),
                    .text(block.date.description), .int(block.startTime.minutesSinceMidnight),
                    .int(span.start), .int(span.end), .text(block.label.rawValue),
                    .integer(now.unixSeconds),
                ])
            try AuditLog.append(
                db, entity: "booking", id: bookingID.rawValue, event: "booking.rescheduled", at: now,
                [
                    "client_id": .int(client.rawValue), "service_code": .text(booking.service.rawValue),
                    "from_block_id": .int(oldBlockID.rawValue), "from_date": .text(booking.date.description),
                    "from_start_time": .text(booking.startTime.description),
                    "to_block_id": .int(newBlockID.rawValue), "to_date": .text(block.date.description),
                    "to_start_time": .text(block.startTime.description),
                ])
            return Booking(
                id: booking.id, client: booking.client, service: booking.service, block: newBlockID,
                date: block.date, startTime: block.startTime, durationMinutes: booking.durationMinutes,
                blockLabel: block.label.rawValue, amountCents: booking.amountCents,
                currency: booking.currency, paymentIntentID: booking.paymentIntentID,
                status: booking.status, paymentState: booking.paymentState, createdAt: booking.createdAt)
        }
    }

    /// A client's bookings (`ListMyBookings`), confirmed and cancelled, by
    /// date, start time and id; `from` and `through` bound the local date
    /// (inclusive) when given. A capture being recorded in the background
    /// shows as done (``CaptureRecords``).
    public func bookings(of client: ClientID, from: LocalDate? = nil, through: LocalDate? = nil)
        async throws -> [Booking]
    {
        try await read { db, _ in
            try db.rows(
                """
                SELECT \(StoredRow.bookingColumns) FROM bookings k
                WHERE k.client_id = ?1 AND (?2 IS NULL OR k.date >= ?2) AND (?3 IS NULL OR k.date <= ?3)
                ORDER BY k.date, k.start_minute, k.booking_id
                """,
                [
                    .integer(client.rawValue), .optionalText(from?.description),
                    .optionalText(through?.description),
                ], StoredRow.booking)
        }.map(captureRecords.showing)
    }
}
