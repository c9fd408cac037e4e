import PortalDomain

// The outbox: payment calls that must follow a commit (capture after a
// booking, cancel after a hold ends), written in the same transaction as the
// change that needs them, and carried out afterwards — directly by the request
// that committed, and by the outbox worker until done, always with the row's
// own idempotency key. A crash between the commit and the call loses nothing.
//
// A row is *claimed* before each attempt: the claim counts the attempt and
// pushes `next_attempt_at` one lease into the future, so that the worker and a
// request never run the same row at once; if the process dies mid-attempt the
// lease runs out (or start-up repair takes the row) and it is tried again.

extension PortalStore {
    /// Outbox rows not yet done, oldest first.
    ///
    /// - Parameters:
    ///   - dueOnly: only rows whose `next_attempt_at` has come (the worker's
    ///     normal round); `false` also returns rows in backoff or under a lease.
    ///   - leftByEarlierRun: only rows an earlier process wrote (start-up
    ///     repair takes what it left; never a row this process wrote, which
    ///     its writer may be attempting right now).
    public func pendingPaymentCommands(
        dueOnly: Bool, leftByEarlierRun: Bool = false, limit: Int = 100
    ) async throws -> [PaymentCommand] {
        let lastEarlierID: SQLiteValue = leftByEarlierRun ? .integer(earlierRun.lastOutboxID) : .null
        return try await read { db, now in
            try db.rows(
                """
                SELECT \(StoredRow.paymentCommandColumns) FROM outbox o
                WHERE o.done_at IS NULL AND (?1 = 0 OR o.next_attempt_at <= ?2)
                  AND (?3 IS NULL OR o.outbox_id <= ?3)
                ORDER BY o.next_attempt_at, o.outbox_id
                LIMIT ?4
                """,
                [.bool(dueOnly), .integer(now.unixSeconds), lastEarlierID, .int(limit)],
                StoredRow.paymentCommand)
        }
    }

    /// Every outbox row of a PaymentIntent, done or not, oldest first.
    public func paymentCommands(for paymentIntentID: String) async throws -> [PaymentCommand] {
        try await read { db, _ in
            try db.rows(
                """
                SELECT \(StoredRow.paymentCommandColumns) FROM outbox o
                WHERE o.payment_intent_id = ? ORDER BY o.outbox_id
                """,
                [.text(paymentIntentID)], StoredRow.paymentCommand)
        }
    }

    /// Claims a pending row for one attempt: counts the attempt and moves
    /// `next_attempt_at` `leaseSeconds` ahead. Returns `nil` when the row is
    /// done, or (unless `evenIfNotDue`) not due — someone else has it.
    public func claimPaymentCommand(_ id: Int64, leaseSeconds: Int64, evenIfNotDue: Bool = false)
        async throws -> PaymentCommand?
    {
        // Outbox rows and payment states only: nothing a cache shows.
        try await write(changes: []) { db, now in
            try db.run(
                """
                UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?1
                WHERE outbox_id = ?2 AND done_at IS NULL AND (?3 = 1 OR next_attempt_at <= ?4)
                """,
                [
                    .integer(now.unixSeconds + leaseSeconds), .integer(id), .bool(evenIfNotDue),
                    .integer(now.unixSeconds),
                ])
            guard db.changes == 1 else { return nil }
            return try Self.paymentCommand(db, id)
        }
    }

    /// Marks a row done with its result and applies it, in one transaction:
    /// a capture moves the booking from `capture_pending` to `captured` (a
    /// capture that found the PaymentIntent cancelled moves it to `canceled`),
    /// with audit entries for the booking and the payment. Idempotent: a row
    /// already done is left as it is (returns false).
    @discardableResult
    public func completePaymentCommand(_ id: Int64, result: PaymentCommandResult) async throws -> Bool {
        // Outbox rows and payment states only: nothing a cache shows.
        try await write(changes: []) { db, now in
            try Self.complete(db, id, result: result, now: now)
        }
    }

    /// Marks outbox row `id` done with `result` and applies it, in the
    /// caller's transaction (``completePaymentCommand(_:result:)``); false
    /// when the row was already done.
    ///
    /// Two statements on the usual path (a capture recorded after every
    /// checkout): each `UPDATE` returns what the next step needs, rather
    /// than reading the row before changing it.
    static func complete(_ db: SQLiteConnection, _ id: Int64, result: PaymentCommandResult, now: Instant) throws
        -> Bool
    {
        let note: String?
        if case .abandoned(let text) = result { note = text } else { note = nil }
        guard
            let (kindText, paymentIntentID, attempts) = try db.row(
                """
                UPDATE outbox SET done_at = ?1, last_error = ?2
                WHERE outbox_id = ?3 AND done_at IS NULL
                RETURNING kind, payment_intent_id, attempts
                """,
                [.integer(now.unixSeconds), .optionalText(note), .integer(id)],
                { row in (row.text(0), row.text(1), row.int(2)) })
        else {
            // Done already — or no such row, which is an error of the caller's.
            _ = try Self.paymentCommand(db, id)
            return false
        }
        guard let kind = PaymentCommand.Kind(rawValue: kindText) else {
            throw StoredDataError(what: "outbox kind")
        }

        let event: String
        switch (kind, result) {
        case (.capture, .captured): event = "payment.captured"
        case (.capture, .canceled): event = "payment.capture_found_canceled"
        case (.cancel, .canceled): event = "payment.canceled"
        case (.cancel, .captured): event = "payment.cancel_found_captured"
        case (.capture, .abandoned): event = "payment.capture_abandoned"
        case (.cancel, .abandoned): event = "payment.cancel_abandoned"
        }
        try AuditLog.append(
            db, entity: "payment", id: paymentIntentID, event: event, at: now,
            [
                "outbox_id": .int(id), "attempts": .int(attempts),
                "note": note.map { .text($0) } ?? .null,
            ])

        guard kind == .capture else { return true }
        let newState: PaymentState
        switch result {
        case .captured: newState = .captured
        case .canceled: newState = .canceled
        case .abandoned: return true
        }
        // At most one row: `payment_intent_id` is unique among bookings.
        let bookingID = try db.integer(
            """
            UPDATE bookings SET payment_state = ?1, updated_at = ?2
            WHERE payment_intent_id = ?3 AND payment_state = 'capture_pending'
            RETURNING booking_id
            """,
            [.text(newState.rawValue), .integer(now.unixSeconds), .text(paymentIntentID)])
        if let bookingID {
            try AuditLog.append(
                db, entity: "booking", id: bookingID, event: "booking.payment_\(newState.rawValue)",
                at: now, ["payment_intent_id": .text(paymentIntentID)])
        }
        return true
    }

    /// Schedules the next attempt of a row that failed, keeping its key;
    /// `error` is a short description for operators (never a secret).
    public func retryPaymentCommandLater(_ id: Int64, afterSeconds delay: Int64, error: String) async throws {
        // Outbox rows and payment states only: nothing a cache shows.
        try await write(changes: []) { db, now in
            try db.run(
                """
                UPDATE outbox SET next_attempt_at = ?1, last_error = ?2
                WHERE outbox_id = ?3 AND done_at IS NULL
                """,
                [.integer(now.unixSeconds + max(0, delay)), .text(String(error.prefix(500))), .integer(id)])
        }
    }

    // MARK: Shared steps

    /// Writes an outbox row in the caller's transaction, due at once, with an
    /// audit entry. A row with the same idempotency key already there is
    /// returned instead, as it is (queuing is idempotent): `inserted` says
    /// which.
    ///
    /// - Parameter leaseSeconds: when given, a new row is written already
    ///   claimed for one attempt by the caller (as
    ///   ``claimPaymentCommand(_:leaseSeconds:evenIfNotDue:)`` would):
    ///   one attempt counted, due only when the lease runs out.
    static func enqueue(
        _ db: SQLiteConnection, _ kind: PaymentCommand.Kind, paymentIntentID: String, key: String,
        now: Instant, why: String, claimingForSeconds leaseSeconds: Int64? = nil
    ) throws -> (command: PaymentCommand, inserted: Bool) {
        let attempts = leaseSeconds == nil ? 0 : 1
        let due = now.adding(seconds: leaseSeconds ?? 0)
        try db.run(
            """
            INSERT INTO outbox (kind, payment_intent_id, idempotency_key, attempts, next_attempt_at, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (idempotency_key) DO NOTHING
            """,
            [
                .text(kind.rawValue), .text(paymentIntentID), .text(key), .int(attempts),
                .integer(due.unixSeconds), .integer(now.unixSeconds),
            ])
        guard db.changes == 1 else {
            guard
                let existing = try db.row(
                    "SELECT \(StoredRow.paymentCommandColumns) FROM outbox o WHERE o.idempotency_key = ?",
                    [.text(key)], StoredRow.paymentCommand)
            else { throw StoredDataError(what: "outbox row") }
            return (existing, false)
        }
        let command = PaymentCommand(
            id: db.lastInsertRowID, kind: kind, paymentIntentID: paymentIntentID, idempotencyKey: key,
            attempts: attempts, nextAttemptAt: due, createdAt: now, doneAt: nil, lastError: nil)
        try AuditLog.append(
            db, entity: "payment", id: paymentIntentID, event: "payment.\(kind.rawValue)_queued",
            at: now, ["outbox_id": .int(command.id), "reason": .text(why)])
        return (command, true)
    }

    static func paymentCommand(_ db: SQLiteConnection, _ id: Int64) throws -> PaymentCommand {
        guard
            let command = try db.row(
                "SELECT \(StoredRow.paymentCommandColumns) FROM outbox o WHERE o.outbox_id = ?",
                [.integer(id)], StoredRow.paymentCommand)
        else { throw StoredDataError(what: "outbox row \(id)") }
        return command
    }
}

extension StoredRow {
    /// Columns of an outbox row, in ``paymentCommand(_:)`` order.
    static let paymentCommandColumns = """
        o.outbox_id, o.kind, o.payment_intent_id, o.idempotency_key, o.attempts, o.next_attempt_at,
        o.created_at, o.done_at, o.last_error
        """

    static func paymentCommand(_ row: SQLiteRow) throws -> PaymentCommand {
        guard let kind = PaymentCommand.Kind(rawValue: row.text(1)) else {
            throw StoredDataError(what: "outbox kind")
        }
        return PaymentCommand(
            id: row.int64(0), kind: kind, paymentIntentID: row.text(2), idempotencyKey: row.text(3),
            attempts: row.int(4), nextAttemptAt: Instant(unixSeconds: row.int64(5)),
            createdAt: Instant(unixSeconds: row.int64(6)),
            doneAt: row.optionalInt64(7).map(Instant.init(unixSeconds:)), lastError: row.optionalText(8))
    }
}
