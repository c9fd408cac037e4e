import PortalDomain

/// How attaching a PaymentIntent to a hold went (``PortalStore/attachPayment(_:clientSecret:toHold:of:)``).
public enum PaymentAttachment: Hashable, Sendable {
    /// The hold now names the PaymentIntent (or already named this one).
    case attached(CheckoutHold)
    /// The hold already named another PaymentIntent (a concurrent retry won):
    /// the hold is returned as it is, and the new, unused PaymentIntent's
    /// cancellation was queued.
    case keptEarlier(CheckoutHold, cancel: PaymentCommand)
    /// The hold is no longer active (expired, cancelled, purged): the new
    /// PaymentIntent's cancellation was queued.
    case holdEnded(CheckoutHold?, cancel: PaymentCommand)
}

/// What ``PortalStore/cancelCheckout(_:of:)`` did.
public enum CheckoutCancellation: Hashable, Sendable {
    /// The hold was released; its PaymentIntent's cancellation is queued
    /// (`nil` when it had none).
    case cancelled(cancel: PaymentCommand?)
    /// The hold had already ended this way; nothing was written.
    case alreadyEnded(HoldState, HoldEndReason?)
}

/// What the checks of ``PortalStore/serviceAndCheckoutPrecheck(for:block:service:)`` found.
public enum CheckoutPrecheck: Hashable, Sendable {
    /// The client's live hold on this block and service (a retried
    /// `StartCheckout`), with its checkout details.
    case existing(CheckoutHold)
    /// A slot is free at the moment (`remaining` of them, at least one);
    /// the hold's own transaction checks again.
    case available(remaining: Int)
}

/// What ``PortalStore/createPaidHold(_:for:block:service:amountCents:paymentIntentID:clientSecret:)`` did.
public enum PaidHoldOutcome: Hashable, Sendable {
    /// The hold now exists and names the PaymentIntent (a new hold, or the
    /// client's live hold that had none).
    case held(CheckoutHold)
    /// The client's live hold on this block and service already names
    /// another PaymentIntent (a concurrent retry won): it is returned as it
    /// is, and the new PaymentIntent's cancellation was queued.
    case keptEarlier(CheckoutHold, cancel: PaymentCommand)
    /// No hold could be taken (the checks' refusal: capacity full, block
    /// started, overlap, price changed, …); the new PaymentIntent's
    /// cancellation was queued and committed, nothing else was written.
    case refused(PortalError, cancel: PaymentCommand)
}

extension PortalStore {
    // MARK: Reading

    /// A hold with its checkout details. With `client`, another client's hold
    /// is reported as not found (no hint that it exists).
    ///
    /// - Throws: ``PortalError`` `notFound` / `HOLD_NOT_FOUND`.
    public func checkoutHold(_ token: HoldToken, of client: ClientID?) async throws -> CheckoutHold {
        try await read { db, _ in try Self.loadCheckoutHold(db, token, of: client) }
    }

    /// The booking a hold became, if it did (a capture being recorded in
    /// the background shows as done: ``CaptureRecords``).
    public func booking(madeFrom token: HoldToken) async throws -> Booking? {
        try await read { db, _ in try Self.bookingMade(db, fromHold: token) }.map(captureRecords.showing)
    }

    /// Active holds with a PaymentIntent whose expiry lies at least
    /// `graceSeconds` in the past at the clock's now, oldest first: the
    /// checkout sweeper's work list (a client may still be confirming a
    /// payment during the grace).
    public func holdsAwaitingSettlement(graceSeconds: Int64, limit: Int = 100) async throws
        -> [CheckoutHold]
    {
        try await read { db, now in
            try Self.paidActiveHolds(
                db, expiringAfter: .min, through: now.unixSeconds - graceSeconds, limit: limit)
        }
    }

    /// Active holds with a PaymentIntent that expire within `seconds` of the
    /// clock's now (and have not yet), soonest first: the sweeper's last
    /// call, which books those already paid while they still hold their
    /// slot.
    public func paidHoldsExpiringSoon(withinSeconds seconds: Int64, limit: Int = 100) async throws
        -> [CheckoutHold]
    {
        try await read { db, now in
            try Self.paidActiveHolds(
                db, expiringAfter: now.unixSeconds, through: now.unixSeconds + seconds, limit: limit)
        }
    }

    /// Active holds with a PaymentIntent whose `expires_at` lies in
    /// `(after, through]`, soonest first: the sweeper's two work lists.
    private static func paidActiveHolds(
        _ db: SQLiteConnection, expiringAfter after: Int64, through: Int64, limit: Int
    ) throws -> [CheckoutHold] {
        try db.rows(
            """
            SELECT \(StoredRow.checkoutHoldColumns) FROM holds h
            WHERE h.state = 'active' AND h.payment_intent_id IS NOT NULL
              AND h.expires_at > ?1 AND h.expires_at <= ?2
            ORDER BY h.expires_at, h.hold_id
            LIMIT ?3
            """,
            [.integer(after), .integer(through), .int(limit)], StoredRow.checkoutHold)
    }

    // MARK: StartCheckout

    /// The checks of ``createHold(for:block:service:)`` on `db`, writing
    /// nothing.
    private static func precheck(
        _ db: SQLiteConnection, _ context: HoldContext, now: Instant, calendar: BusinessCalendar
    ) throws -> CheckoutPrecheck {
        switch try checkHold(db, context, now: now, calendar: calendar) {
        case .existing(let hold): return .existing(try loadCheckoutHold(db, hold.token, of: context.clientID))
        case .room(let room): return .available(remaining: room.remaining)
        }
    }

    /// `StartCheckout`'s first step, on one reader snapshot, writing
    /// nothing: the service, then the checks of
    /// ``createHold(for:block:service:)`` — asked before any PaymentIntent
    /// is created, so that a full block or a bad request never costs a call
    /// to the payment provider. The checks' refusal (``PortalError``, as
    /// ``createHold(for:block:service:)`` would throw it) is returned rather
    /// than thrown, so that the caller can refuse a wrong price first.
    ///
    /// - Throws: ``PortalError`` `notFound` / `UNKNOWN_SERVICE`; SQLite errors.
    public func serviceAndCheckoutPrecheck(for client: ClientID, block: BlockID, service code: ServiceCode)
        async throws -> (service: ServiceDefaults, precheck: Result<CheckoutPrecheck, PortalError>)
    {
        try await read { [calendar] db, now in
            let context = try Query.holdContext(db, block: block, service: code, client: client, now: now)
            guard let service = context.service else { throw PortalError.unknownService(code) }
            do {
                return (service, .success(try Self.precheck(db, context, now: now, calendar: calendar)))
            } catch let refusal as PortalError {
                return (service, .failure(refusal))
            }
        }
    }

    /// Takes a hold already paid for by a PaymentIntent created for it
    /// (`StartCheckout`'s one write): the checks and the count of
    /// ``createHold(for:block:service:)`` under the write lock, then the hold
    /// with its PaymentIntent and client secret, in one transaction.
    ///
    /// The PaymentIntent was created before this call, for `amountCents` and
    /// with `token` in its metadata. Whenever it cannot be used — a refusal,
    /// a price that changed since (`PRICE_CHANGED`, `details.price_cents`),
    /// a live hold of the client that already names another PaymentIntent —
    /// its cancellation is queued in the same transaction, which then
    /// commits: the provider is never left with a payable intent nobody will
    /// book.
    ///
    /// - Throws: only what is not a refusal (SQLite, cancellation): then
    ///   nothing was written.
    public func createPaidHold(
        _ token: HoldToken, for client: ClientID, block: BlockID, service code: ServiceCode,
        amountCents: Int64, paymentIntentID: String, clientSecret: String
    ) async throws -> PaidHoldOutcome {
        let lifetime = configuration.holdLifetimeSeconds
        // Only a new hold changes what `ListBlocks` shows, for its own date
        // and service; a refusal queues a cancellation, a retry's hold
        // exists already.
        return try await write(declaring: { [calendar] db, now in
            func cancelled(_ why: String) throws -> PaymentCommand {
                try Self.enqueue(
                    db, .cancel, paymentIntentID: paymentIntentID,
                    key: PaymentCommand.idempotencyKey(forOrphan: paymentIntentID), now: now, why: why
                ).command
            }
            let check: HoldCheck
            do {
                check = try Self.checkHold(db, for: client, block: block, service: code, now: now, calendar: calendar)
            } catch let refusal as PortalError {
                return (.refused(refusal, cancel: try cancelled(refusal.reason.rawValue)), [])
            }
            switch check {
            case .existing(let existing):
                let (record, holdID) = try Self.loadCheckoutHoldRow(db, existing.token, of: client)
                if let earlier = record.hold.paymentIntentID, earlier != paymentIntentID {
                    return (
                        .keptEarlier(record, cancel: try cancelled("a concurrent retry attached another PaymentIntent")),
                        []
                    )
                }
                guard record.hold.paymentIntentID == nil else { return (.held(record), []) }
                guard record.hold.amountCents == amountCents else {
                    return (
                        .refused(
                            PortalError.priceChanged(record.hold.amountCents), cancel: try cancelled("price changed")),
                        []
                    )
                }
                // A hold taken without a payment (createHold): this one pays for it.
                try Self.attach(db, paymentIntentID, clientSecret: clientSecret, toHold: holdID, now: now)
                return (.held(try Self.loadCheckoutHold(db, existing.token, of: client)), [])
            case .room(let room):
                guard room.service.priceCents == amountCents else {
                    return (
                        .refused(
                            PortalError.priceChanged(room.service.priceCents), cancel: try cancelled("price changed")),
                        []
                    )
                }
                let hold = try Self.insertHold(
                    db, token, for: client, room: room, lifetime: lifetime, now: now,
                    payment: (paymentIntentID, clientSecret))
                return (
                    .held(CheckoutHold(hold: hold, clientSecret: clientSecret, endReason: nil)),
                    .availability(of: AvailabilityScope(date: room.block.date, service: code))
                )
            }
        })
    }

    /// Records a PaymentIntent on an active hold that has none, with its audit entry.
    static func attach(
        _ db: SQLiteConnection, _ paymentIntentID: String, clientSecret: String, toHold holdID: Int64,
        now: Instant
    ) throws {
        try db.run(
            """
            UPDATE holds SET payment_intent_id = ?1, client_secret = ?2, updated_at = ?3
            WHERE hold_id = ?4 AND state = 'active' AND payment_intent_id IS NULL
            """,
            [.text(paymentIntentID), .text(clientSecret), .integer(now.unixSeconds), .integer(holdID)])
        guard db.changes == 1 else { throw StoredDataError(what: "hold payment") }
        try AuditLog.append(
            db, entity: "hold", id: holdID, event: "hold.payment_attached", at: now,
            ["payment_intent_id": .text(paymentIntentID)])
    }

    /// Records the PaymentIntent created for a hold, before `StartCheckout`
    /// answers. One transaction; idempotent for the same PaymentIntent.
    ///
    /// If the hold meanwhile names another PaymentIntent (two concurrent
    /// retries each created one) or is no longer active, the new one is never
    /// shown to anybody: its cancellation is queued in the same transaction.
    public func attachPayment(
        _ paymentIntentID: String, clientSecret: String, toHold token: HoldToken, of client: ClientID
    ) async throws -> PaymentAttachment {
        // A hold's PaymentIntent is not part of what `ListBlocks` shows.
        try await write(changes: []) { db, now in
            let found = try Self.findCheckoutHoldRow(db, token, of: client)
            guard let (record, holdID) = found, record.hold.isActive(at: now) else {
                let cancel = try Self.enqueue(
                    db, .cancel, paymentIntentID: paymentIntentID,
                    key: PaymentCommand.idempotencyKey(forOrphan: paymentIntentID), now: now,
                    why: "hold ended before its payment was attached"
                ).command
                return .holdEnded(found?.record, cancel: cancel)
            }
            if let existing = record.hold.paymentIntentID {
                if existing == paymentIntentID { return .attached(record) }
                let cancel = try Self.enqueue(
                    db, .cancel, paymentIntentID: paymentIntentID,
                    key: PaymentCommand.idempotencyKey(forOrphan: paymentIntentID), now: now,
                    why: "a concurrent retry attached another PaymentIntent"
                ).command
                return .keptEarlier(record, cancel: cancel)
            }
            try Self.attach(db, paymentIntentID, clientSecret: clientSecret, toHold: holdID, now: now)
            return .attached(try Self.loadCheckoutHold(db, token, of: client))
        }
    }

    /// Releases an active hold that never got a PaymentIntent (the provider
    /// could not be reached, the price changed under the caller, or the
    /// `StartCheckout` that took it passed its deadline), so that no slot
    /// stays taken. With `orphan` — a PaymentIntent created for the hold
    /// and never attached to it — that PaymentIntent's cancellation is
    /// queued in the same transaction (returned, for a first attempt), so
    /// that nobody is left with a payable intent no hold names.
    ///
    /// Done even if the calling task is cancelled or past its deadline: a
    /// release undoes what the call did before it ran out.
    @discardableResult
    public func releaseUnpaidHold(
        _ token: HoldToken, of client: ClientID, reason: HoldEndReason, cancelling orphan: String? = nil
    ) async throws -> (released: Bool, cancel: PaymentCommand?) {
        try await write(changes: .availability, evenIfCallerGivesUp: true) { db, now in
            let found = try Self.findCheckoutHoldRow(db, token, of: client)
            // A concurrent retry of the same start created the same
            // PaymentIntent (its idempotency key comes from the hold) and
            // attached it: the hold is paid for, and stays.
            if let orphan, found?.record.hold.paymentIntentID == orphan { return (false, nil) }
            let cancel = try orphan.map { paymentIntentID in
                try Self.enqueue(
                    db, .cancel, paymentIntentID: paymentIntentID,
                    key: PaymentCommand.idempotencyKey(forOrphan: paymentIntentID), now: now,
                    why: "its hold was released: \(reason.rawValue)"
                ).command
            }
            guard let (record, holdID) = found, record.hold.state == .active, record.hold.paymentIntentID == nil
            else { return (false, cancel) }
            try Self.endHold(db, holdID, state: .cancelled, reason: reason, now: now)
            return (true, cancel)
        }
    }

    /// Start-up repair: releases active holds an earlier process took that
    /// never got a PaymentIntent — the `StartCheckout` that took each one
    /// died with that process before answering, so nobody can pay for it;
    /// releasing it frees the slot now rather than at its expiry. Holds this
    /// process took are never touched, even in its first second. Returns
    /// the holds released, as they were. (A PaymentIntent the dead request
    /// may have created for one is cancelled by the checkout's search for
    /// unclaimed ones: ``queueCancellationOfUnclaimedPaymentIntent(_:)``.)
    @discardableResult
    public func releaseInterruptedCheckouts() async throws -> [CapacityHold] {
        let lastEarlierHold = earlierRun.lastHoldID
        return try await write(changes: .availability) { db, now in
            // `+payment_intent_id`: search by the live holds' expiry, never by the
            // PaymentIntent's unique index (which the planner may guess selective).
            let holds = try db.rows(
                """
                SELECT \(StoredRow.holdColumns), h.hold_id FROM holds h
                WHERE h.state = 'active' AND +h.payment_intent_id IS NULL AND h.hold_id <= ?1
                  AND h.expires_at > ?2
                """,
                [.integer(lastEarlierHold), .integer(now.unixSeconds)]
            ) { row in (hold: try StoredRow.hold(row), id: row.int64(10)) }
            for (_, holdID) in holds {
                try Self.endHold(db, holdID, state: .cancelled, reason: .interrupted, now: now)
            }
            return holds.map(\.hold)
        }
    }

    /// Start-up repair: queues the cancellation of a PaymentIntent that an
    /// earlier run's `StartCheckout` created and that no hold or booking
    /// names — the run died before its hold was written (or before the
    /// PaymentIntent was attached to a hold it had taken first, which
    /// ``releaseInterruptedCheckouts()`` has released). Nobody was shown its
    /// client secret, so it cannot have been paid through Portal. Returns
    /// the cancellation (queued now, or earlier by the same key), or `nil`
    /// when a hold or booking names the PaymentIntent — it is then not an
    /// orphan, and the paths that own it settle it.
    public func queueCancellationOfUnclaimedPaymentIntent(_ paymentIntentID: String) async throws
        -> PaymentCommand?
    {
        try await write(changes: []) { db, now in
            let named = try db.integer(
                """
                SELECT EXISTS (SELECT 1 FROM holds WHERE payment_intent_id = ?1)
                    OR EXISTS (SELECT 1 FROM bookings WHERE payment_intent_id = ?1)
                """,
                [.text(paymentIntentID)])
            guard named == 0 else { return nil }
            return try Self.enqueue(
                db, .cancel, paymentIntentID: paymentIntentID,
                key: PaymentCommand.idempotencyKey(forOrphan: paymentIntentID), now: now,
                why: "created by a StartCheckout an earlier run did not finish"
            ).command
        }
    }

    // MARK: FinalizeCheckout and the sweeper

    /// Turns a hold whose payment was verified with the provider into a
    /// booking — or, when that is no longer possible, closes it and queues
    /// the PaymentIntent's cancellation. One `BEGIN IMMEDIATE` transaction:
    ///
    /// 1. the hold (the caller's, when `client` is given; else
    ///    `HOLD_NOT_FOUND`) must name `payment.paymentIntentID` (else
    ///    `PAYMENT_MISMATCH`) and its amount and currency (else
    ///    `PAYMENT_MISMATCH`);
    /// 2. a hold that already became a booking answers ``HoldSettlement/alreadyBooked(_:)``;
    ///    one that ended otherwise, ``HoldSettlement/closed(_:_:)``; nothing is written;
    /// 3. capacity, re-checked under the write lock: a hold still active *is*
    ///    the slot. An expired one needs room among confirmed bookings and
    ///    other active holds, a block that has not started, and no
    ///    overlapping hold or booking of the client where overlap is not
    ///    allowed; otherwise the hold ends (`capacity_gone`, `block_started`,
    ///    `overlapping`) and the PaymentIntent's cancellation is queued:
    ///    ``HoldSettlement/refused(_:cancel:)``;
    /// 4. the booking is inserted (block label copied, start = the block's
    ///    start, end = start + the service's duration, the hold's price), the
    ///    hold marked converted, the capture queued in the outbox with the
    ///    key derived from the hold, and every change audited.
    ///
    /// - Parameters:
    ///   - actor: who settles, for the audit log (`client`, `sweeper`).
    ///   - leaseSeconds: when given, the capture row is written already
    ///     claimed by the caller for its first attempt (one attempt counted,
    ///     not due for the outbox worker until the lease runs out), so that
    ///     the caller can capture at once without another write and without
    ///     racing the worker. Carry it out with the row's own key.
    public func settlePaidHold(
        _ token: HoldToken, of client: ClientID?, payment: VerifiedPayment, actor: String,
        claimingCaptureForSeconds leaseSeconds: Int64? = nil
    ) async throws -> HoldSettlement {
        // What `ListBlocks` shows changes only when an expired hold — one
        // no longer counted — becomes a booking: a live hold's slot simply
        // passes from the holds to the bookings, and the rest writes only
        // holds that were not counted and the outbox.
        try await write(declaring: { [calendar] db, now in
            let (record, holdID, place) = try Self.loadCheckoutHoldWithPlace(db, token, of: client)
            let hold = record.hold
            guard hold.paymentIntentID == payment.paymentIntentID,
                hold.amountCents == payment.amountCents, hold.currency == payment.currency
            else {
                throw PortalError.failedPrecondition(
                    .paymentMismatch, "The payment does not belong to this hold.")
            }
            switch hold.state {
            case .converted:
                guard let booking = try Self.bookingMade(db, fromHold: token),
                    booking.paymentIntentID == payment.paymentIntentID
                else { throw StoredDataError(what: "converted hold without its booking") }
                return (.alreadyBooked(booking), [])
            case .cancelled, .expired:
                return (.closed(hold.state, record.endReason), [])
            case .active:
                break
            }
            let (block, service) = try place.required()
            let span = block.bookingSpan(durationMinutes: service.durationMinutes)

            if !hold.isActive(at: now) {
                // The hold no longer keeps the slot: book only if one is free now.
                var refusal: HoldEndReason?
                let usage = try Query.usage(db, block: hold.block, service: hold.service, now: now)
                if calendar.hasStarted(block.date, at: block.startTime, now: now) {
                    refusal = .blockStarted
                } else if let usage, usage.remaining > 0 {
                    if try Self.hasOverlap(
                        db, client: hold.client, service: hold.service, span: span,
                        allowOverlap: usage.allowOverlap, now: now)
                    {
                        refusal = .overlapping
                    }
                } else {
                    refusal = .capacityGone
                }
                if let refusal {
                    try Self.endHold(db, holdID, state: .expired, reason: refusal, now: now)
                    let cancel = try Self.enqueue(
                        db, .cancel, paymentIntentID: payment.paymentIntentID,
                        key: PaymentCommand.idempotencyKey(forHold: token, operation: "cancel"), now: now,
                        why: refusal.rawValue
                    ).command
                    return (.refused(refusal, cancel: cancel), [])
                }
            }

            let paymentState: PaymentState = payment.isCaptured ? .captured : .capturePending
            let bookingID = try Self.insertConfirmedBooking(
                db, client: hold.client, service: service, block: block, holdID: holdID, span: span,
                amountCents: hold.amountCents, currency: hold.currency,
                paymentIntentID: payment.paymentIntentID, paymentState: paymentState, now: now)
            try Self.endHold(db, holdID, state: .converted, reason: .booked, now: now)
            try AuditLog.append(
                db, entity: "booking", id: bookingID.rawValue, event: "booking.created", at: now,
                [
                    "hold_id": .int(holdID), "block_id": .int(hold.block.rawValue),
                    "service_code": .text(hold.service.rawValue), "client_id": .int(hold.client.rawValue),
                    "amount_cents": .int(hold.amountCents), "currency": .text(hold.currency),
                    "payment_intent_id": .text(payment.paymentIntentID),
                    "payment_state": .text(paymentState.rawValue), "source": .text(actor),
                    "hold_expired": .bool(!hold.isActive(at: now)),
                ])
            var capture: PaymentCommand?
            if !payment.isCaptured {
                let queued = try Self.enqueue(
                    db, .capture, paymentIntentID: payment.paymentIntentID,
                    key: PaymentCommand.idempotencyKey(forHold: token, operation: "capture"), now: now,
                    why: "booking \(bookingID)", claimingForSeconds: leaseSeconds)
                // A row that was already there is the worker's, not ours.
                capture = leaseSeconds == nil || queued.inserted ? queued.command : nil
            }
            let booking = Booking(
                id: bookingID, client: hold.client, service: hold.service, block: hold.block,
                date: block.date, startTime: block.startTime, durationMinutes: service.durationMinutes,
                blockLabel: block.label.rawValue, amountCents: hold.amountCents, currency: hold.currency,
                paymentIntentID: payment.paymentIntentID, status: .confirmed, paymentState: paymentState,
                createdAt: now)
            return (
                .booked(booking, capture: capture),
                hold.isActive(at: now) ? [] : .availability(of: AvailabilityScope(date: block.date, service: hold.service))
            )
        })
    }

    /// Ends an active hold whose payment the sweeper found not authorised (or
    /// not matching), and queues its PaymentIntent's cancellation, in one
    /// transaction. Returns `nil` when the hold was no longer active (a
    /// concurrent finalize or cancel got there first).
    public func expireUnpaidHold(_ token: HoldToken, reason: HoldEndReason = .expiredUnpaid)
        async throws -> PaymentCommand?
    {
        try await write(changes: .availability) { db, now in
            let (record, holdID) = try Self.loadCheckoutHoldRow(db, token, of: nil)
            guard record.hold.state == .active else { return nil }
            try Self.endHold(db, holdID, state: .expired, reason: reason, now: now)
            guard let paymentIntentID = record.hold.paymentIntentID else { return nil }
            return try Self.enqueue(
                db, .cancel, paymentIntentID: paymentIntentID,
                key: PaymentCommand.idempotencyKey(forHold: token, operation: "cancel"), now: now,
                why: reason.rawValue
            ).command
        }
    }

    // MARK: CancelCheckout

    /// Releases the caller's hold and queues its PaymentIntent's cancellation
    /// (`CancelCheckout`). Idempotent: a hold that already ended answers
    /// ``CheckoutCancellation/alreadyEnded(_:_:)``.
    ///
    /// - Throws: ``PortalError`` `HOLD_NOT_FOUND` (also for another client's
    ///   hold), `failedPrecondition` / `HOLD_ALREADY_BOOKED` when it became a booking.
    public func cancelCheckout(_ token: HoldToken, of client: ClientID) async throws
        -> CheckoutCancellation
    {
        try await write(changes: .availability) { db, now in
            let (record, holdID) = try Self.loadCheckoutHoldRow(db, token, of: client)
            switch record.hold.state {
            case .converted:
                throw PortalError.failedPrecondition(
                    .holdAlreadyBooked, "This checkout is already a booking; it cannot be cancelled here.")
            case .cancelled, .expired:
                return .alreadyEnded(record.hold.state, record.endReason)
            case .active:
                break
            }
            try Self.endHold(db, holdID, state: .cancelled, reason: .cancelledByClient, now: now)
            guard let paymentIntentID = record.hold.paymentIntentID else { return .cancelled(cancel: nil) }
            let cancel = try Self.enqueue(
                db, .cancel, paymentIntentID: paymentIntentID,
                key: PaymentCommand.idempotencyKey(forHold: token, operation: "cancel"), now: now,
                why: HoldEndReason.cancelledByClient.rawValue
            ).command
            return .cancelled(cancel: cancel)
        }
    }

    // MARK: Shared steps

    /// The hold with this token (another client's counts as none), with
    /// its row id.
    static func findCheckoutHoldRow(_ db: SQLiteConnection, _ token: HoldToken, of client: ClientID?) throws
        -> (record: CheckoutHold, rowID: Int64)?
    {
        guard
            let found = try db.row(
                "SELECT \(StoredRow.checkoutHoldColumns) FROM holds h WHERE h.token = ?",
                [.text(token.rawValue)], { row in (try StoredRow.checkoutHold(row), row.int64(10)) }),
            client == nil || found.0.hold.client == client
        else { return nil }
        return found
    }

    /// As ``loadCheckoutHoldRow(_:_:of:)``, with the hold's block and
    /// service read by the same statement (what settling it needs).
    private static func loadCheckoutHoldWithPlace(_ db: SQLiteConnection, _ token: HoldToken, of client: ClientID?)
        throws -> (record: CheckoutHold, rowID: Int64, place: HoldPlace)
    {
        guard
            let found = try db.row(
                Self.checkoutHoldWithPlaceSQL, [.text(token.rawValue)],
                { row in
                    let record = try StoredRow.checkoutHold(row)
                    let place = HoldPlace(
                        blockID: record.hold.block, serviceCode: record.hold.service,
                        block: row.isNull(13) ? nil : try StoredRow.block(row, at: 13),
                        service: row.isNull(18) ? nil : try StoredRow.serviceDefaults(row, at: 18))
                    return (record, row.int64(10), place)
                }),
            client == nil || found.0.hold.client == client
        else { throw PortalError.holdNotFound }
        return found
    }

    private static let checkoutHoldWithPlaceSQL = """
        SELECT \(StoredRow.checkoutHoldColumns), \(StoredRow.blockColumns),
            s.service_code, s.duration_minutes, s.price_cents, s.currency, s.notes
        FROM holds h
        LEFT JOIN blocks b ON b.block_id = h.block_id
        LEFT JOIN services s ON s.service_code = h.service_code
        WHERE h.token = ?
        """

    /// A hold's block and service, `nil` when gone (see ``required()``).
    private struct HoldPlace {
        let blockID: BlockID
        let serviceCode: ServiceCode
        let block: TimetableBlock?
        let service: ServiceDefaults?

        /// Both, or `BLOCK_NOT_FOUND` / `UNKNOWN_SERVICE` for the first missing.
        func required() throws -> (block: TimetableBlock, service: ServiceDefaults) {
            guard let block else { throw PortalError.blockNotFound(blockID) }
            guard let service else { throw PortalError.unknownService(serviceCode) }
            return (block, service)
        }
    }

    /// As ``findCheckoutHoldRow(_:_:of:)`` without the row id, throwing
    /// `HOLD_NOT_FOUND` for none.
    static func loadCheckoutHold(_ db: SQLiteConnection, _ token: HoldToken, of client: ClientID?) throws
        -> CheckoutHold
    {
        try loadCheckoutHoldRow(db, token, of: client).record
    }

    /// As ``findCheckoutHoldRow(_:_:of:)``, throwing `HOLD_NOT_FOUND` for none.
    static func loadCheckoutHoldRow(_ db: SQLiteConnection, _ token: HoldToken, of client: ClientID?) throws
        -> (record: CheckoutHold, rowID: Int64)
    {
        guard let found = try findCheckoutHoldRow(db, token, of: client) else {
            throw PortalError.holdNotFound
        }
        return found
    }

    static func bookingMade(_ db: SQLiteConnection, fromHold token: HoldToken) throws -> Booking? {
        try db.row(
            """
            SELECT \(StoredRow.bookingColumns) FROM bookings k
            JOIN holds h ON h.hold_id = k.hold_id
            WHERE h.token = ?
            """,
            [.text(token.rawValue)], StoredRow.booking)
    }

    /// Moves an active hold (by row id) to its end state, with its audit entry.
    static func endHold(
        _ db: SQLiteConnection, _ holdID: Int64, state: HoldState, reason: HoldEndReason, now: Instant
    ) throws {
        try db.run(
            """
            UPDATE holds SET state = ?1, end_reason = ?2, updated_at = ?3
            WHERE hold_id = ?4 AND state = 'active'
            """,
            [.text(state.rawValue), .text(reason.rawValue), .integer(now.unixSeconds), .integer(holdID)])
        guard db.changes == 1 else { throw StoredDataError(what: "hold state") }
        try AuditLog.append(
            db, entity: "hold", id: holdID, event: "hold.\(state.rawValue)", at: now,
            ["reason": .text(reason.rawValue)])
    }
}

extension StoredRow {
    /// Columns of a checkout hold: ``holdColumns`` then id, client secret, end reason.
    static let checkoutHoldColumns = holdColumns + ", h.hold_id, h.client_secret, h.end_reason"

    static func checkoutHold(_ row: SQLiteRow) throws -> CheckoutHold {
        let endReason = try row.optionalText(12).map { text in
            guard let reason = HoldEndReason(rawValue: text) else {
                throw StoredDataError(what: "hold end reason")
            }
            return reason
        }
        return CheckoutHold(hold: try hold(row), clientSecret: row.optionalText(11), endReason: endReason)
    }
}
