import Logging
import PortalDomain
import PortalPayments
import PortalStore

/// A checkout that has begun: the hold and the PaymentIntent that pays for it.
public struct CheckoutStart: Hashable, Sendable, CustomStringConvertible {
    /// The hold (its token goes to the client, never to a log).
    public let hold: CapacityHold
    /// The PaymentIntent's id.
    public let paymentIntentID: String
    /// The PaymentIntent's client secret, for the paying browser only.
    public let clientSecret: String

    /// Names the checkout without its token or client secret.
    public var description: String {
        "CheckoutStart(block \(hold.block), \(hold.service), \(paymentIntentID), expires \(hold.expiresAt))"
    }
}

extension CheckoutStart {
    /// The checkout a hold already paid for answers (a retry, or a
    /// concurrent start that won); `nil` while it has no PaymentIntent.
    init?(paid record: CheckoutHold) {
        guard let id = record.hold.paymentIntentID, let secret = record.clientSecret else { return nil }
        self.init(hold: record.hold, paymentIntentID: id, clientSecret: secret)
    }
}

/// Pre-pay checkout (SPEC §2): holds, PaymentIntents, bookings, and every
/// money rule — the use case between the RPC methods, the store and the
/// payment provider.
///
/// - ``start(for:service:block:expectedPriceCents:)`` checks on a snapshot,
///   creates the PaymentIntent (manual capture, the server's price,
///   metadata naming the hold, an idempotency key derived from the hold)
///   and takes the hold with it in one write — or, when the slot is
///   contested, takes the hold first and attaches the PaymentIntent after
///   (a retry returns the client's live hold); always recorded before
///   answering.
/// - ``finalize(for:holdToken:paymentIntentID:)`` verifies the payment with
///   the provider, books in one transaction that re-checks capacity and
///   queues the capture, then captures.
/// - ``cancel(for:holdToken:)`` releases a hold and cancels its payment.
///
/// Calls that must follow a commit (capture, cancel) are outbox rows: tried
/// once at once by the request, and by the ``OutboxWorker`` until done.
///
/// ```swift
/// let checkout = Checkout(store: store, gateway: stripe, logger: logger)
/// let started = try await checkout.start(
///     for: client, service: try ServiceCode("walk"), block: blockID, expectedPriceCents: 1500)
/// // … the browser pays with started.clientSecret …
/// let booking = try await checkout.finalize(
///     for: client, holdToken: started.hold.token, paymentIntentID: started.paymentIntentID)
/// ```
public final class Checkout: Sendable {
    /// The store of holds, bookings and the outbox.
    public let store: PortalStore
    /// The payment provider.
    public let gateway: any PaymentGateway
    /// Grace, intervals, backoff.
    public let configuration: Configuration
    let runner: PaymentCommandRunner
    private let startsInFlight = StartsInFlight()
    let startedHolds = StartedHolds()
    /// This process's id among the runs of the store (64 random bits, hex),
    /// in every PaymentIntent it creates: start-up repair of a later run
    /// cancels only earlier runs' orphans, never a `StartCheckout` of its own
    /// still under way.
    let runID = String(UInt64.random(in: .min ... .max), radix: 16)
    private let simulationWarnings = SimulationWarnings()
    private let logger: Logger

    /// A checkout over `store` and `gateway`.
    public init(
        store: PortalStore, gateway: any PaymentGateway, configuration: Configuration = .defaults,
        logger: Logger = Logger(label: "portal.checkout")
    ) {
        self.store = store
        self.gateway = gateway
        self.configuration = configuration
        self.logger = logger
        self.runner = PaymentCommandRunner(
            store: store, gateway: gateway, configuration: configuration, logger: logger)
    }

    /// The outbox worker of this checkout (run it as a service).
    public func makeOutboxWorker() -> OutboxWorker {
        OutboxWorker(checkout: self, logger: logger)
    }

    /// The sweeper of this checkout (run it as a service).
    public func makeSweeper() -> CheckoutSweeper {
        CheckoutSweeper(checkout: self, logger: logger)
    }

    // MARK: StartCheckout

    /// Takes a hold on one slot and creates the PaymentIntent that pays for it
    /// (`StartCheckout`). A retry for the same block and service returns the
    /// same live hold and PaymentIntent.
    ///
    /// - Throws: ``PortalError``: the refusals of ``PortalStore/createHold(for:block:service:)``;
    ///   `PRICE_CHANGED` when `expectedPriceCents` is not the price
    ///   (`details.price_cents`) — the service's current price, or for a
    ///   retry the price the client's live hold was taken at;
    ///   `PRICE_NOT_PAYABLE` for a free service;
    ///   unavailable / `PAYMENT_PROVIDER_UNAVAILABLE` when the provider cannot
    ///   be reached — no slot stays taken.
    public func start(
        for client: ClientID, service code: ServiceCode, block: BlockID, expectedPriceCents: Int64?
    ) async throws -> CheckoutStart {
        warnIfSimulated()
        // Counted as under way before the checks are read, as the margin below assumes.
        let contest = StartKey(block: block, service: code)
        startsInFlight.enter(contest)
        defer { startsInFlight.leave(contest) }
        // Ask first, writing nothing: a full block, a bad request or a retry
        // never costs a call to the payment provider. One snapshot for the
        // service and the checks; a wrong or unpayable price is refused
        // before what the checks found.
        let (service, precheck) = try await store.serviceAndCheckoutPrecheck(
            for: client, block: block, service: code)
        // A retry is priced as its live hold was taken, whatever the service
        // costs now (docs/checkout.md): comparing it with the current price
        // would refuse the hold's own price and then, given the new one,
        // refuse that against the hold's — a client could never retry.
        let retried: CheckoutHold? = if case .success(.existing(let record)) = precheck { record } else { nil }
        let price = retried?.hold.amountCents ?? service.priceCents
        if let expectedPriceCents, expectedPriceCents != price {
            throw PortalError.priceChanged(price)
        }
        guard price > 0 else {
            throw PortalError.failedPrecondition(
                .priceNotPayable, "The service \"\(code)\" is free; it cannot be paid by card.",
                details: ["service_code": code.rawValue])
        }
        switch try precheck.get() {
        case .existing(let record):
            if let paid = CheckoutStart(paid: record) { return paid }
            // A live hold without a payment (taken by `createHold`): pay for that one.
            return try await startHoldFirst(for: client, service: code, block: block, expectedPriceCents: expectedPriceCents)
        case .available(let remaining):
            // Uncontested — comfortably more free slots than starts under
            // way here — the PaymentIntent first, then the hold with it in
            // one write. Otherwise the hold first, so that the starts that
            // lose a race for the last slots never cost a PaymentIntent.
            guard startsInFlight.count(contest) + Self.uncontestedMargin <= remaining else {
                return try await startHoldFirst(
                    for: client, service: code, block: block, expectedPriceCents: expectedPriceCents)
            }
            return try await startInOneWrite(for: client, service: service, block: block)
        }
    }

    /// How many more free slots than starts under way a (block, service)
    /// must have for `StartCheckout` to create the PaymentIntent before the
    /// hold. The margin covers what the count cannot see — starts that
    /// arrive while this one's PaymentIntent is being created and take the
    /// hold-first path — so that a hold write refusing a PaymentIntent made
    /// for it (which is then cancelled) stays a rare event, and a race for
    /// a block's last few slots never creates one.
    static let uncontestedMargin = 8

    /// `StartCheckout` when a slot is not contested: the PaymentIntent, then
    /// one write that takes the hold with it (or queues its cancellation).
    private func startInOneWrite(for client: ClientID, service: ServiceDefaults, block: BlockID)
        async throws -> CheckoutStart
    {
        let code = service.code
        let token = HoldToken.generate()
        let intent: PaymentIntent
        do {
            intent = try await createPaymentIntent(
                forHold: token, client: client, block: block, service: code,
                amountCents: service.priceCents, currency: service.currency)
        } catch {
            if error is CancellationError { throw error }
            logger.warning(
                "Could not create the PaymentIntent; nothing was held",
                metadata: ["block_id": "\(block)", "service_code": "\(code)", "error": "\(error)"])
            throw PortalError.paymentProviderUnavailable
        }

        configuration.faults.paymentCreatedBeforeHold()
        // The checks again under the write lock, then the hold with its
        // PaymentIntent — or the PaymentIntent's cancellation.
        let outcome: PaidHoldOutcome
        do {
            outcome = try await store.createPaidHold(
                token, for: client, block: block, service: code, amountCents: service.priceCents,
                paymentIntentID: intent.id, clientSecret: intent.clientSecret)
        } catch {
            // Nothing was written (the deadline passed, or the store
            // failed): the PaymentIntent must not outlive the call.
            await release(token, of: client, reason: .interrupted, cancelling: intent.id)
            throw error
        }
        switch outcome {
        case .held(let record):
            logStarted(record.hold, paymentIntentID: intent.id)
            startedHolds.remember(record.hold)
            return CheckoutStart(hold: record.hold, paymentIntentID: intent.id, clientSecret: intent.clientSecret)
        case .keptEarlier(let record, let cancel):
            return try await keptEarlier(record, cancelling: cancel)
        case .refused(let refusal, let cancel):
            await runner.attempt(cancel)
            throw refusal
        }
    }

    /// `StartCheckout` when a slot is contested (or a hold without a payment
    /// exists): the hold first — the losers of the race are refused before
    /// any PaymentIntent exists — then the PaymentIntent, then a second
    /// write that attaches it.
    private func startHoldFirst(
        for client: ClientID, service code: ServiceCode, block: BlockID, expectedPriceCents: Int64?
    ) async throws -> CheckoutStart {
        let outcome = try await store.createHold(for: client, block: block, service: code)
        let token = outcome.hold.token
        if !outcome.isNew {
            let record = try await store.checkoutHold(token, of: client)
            if let expectedPriceCents, record.hold.amountCents != expectedPriceCents {
                throw PortalError.priceChanged(record.hold.amountCents)
            }
            if let paid = CheckoutStart(paid: record) { return paid }
        } else if let expectedPriceCents, outcome.hold.amountCents != expectedPriceCents {
            // The price changed between the check and the hold.
            await release(token, of: client, reason: .priceChanged)
            throw PortalError.priceChanged(outcome.hold.amountCents)
        }

        let intent: PaymentIntent
        do {
            intent = try await createPaymentIntent(
                forHold: token, client: client, block: block, service: code,
                amountCents: outcome.hold.amountCents, currency: outcome.hold.currency)
        } catch {
            if error is CancellationError {
                // The deadline passed: the answer says nothing was
                // committed, so the hold this call took must not stay.
                await release(token, of: client, reason: .interrupted)
                throw error
            }
            logger.warning(
                "Could not create the PaymentIntent; releasing the hold",
                metadata: ["block_id": "\(block)", "service_code": "\(code)", "error": "\(error)"])
            await release(token, of: client, reason: .paymentProviderUnavailable)
            throw PortalError.paymentProviderUnavailable
        }

        configuration.faults.paymentCreatedForHold()
        let attachment: PaymentAttachment
        do {
            attachment = try await store.attachPayment(
                intent.id, clientSecret: intent.clientSecret, toHold: token, of: client)
        } catch {
            // Not attached (the deadline passed, or the store failed): neither
            // the hold nor its PaymentIntent may outlive the call.
            await release(token, of: client, reason: .interrupted, cancelling: intent.id)
            throw error
        }
        switch attachment {
        case .attached(let record):
            logStarted(record.hold, paymentIntentID: intent.id)
            startedHolds.remember(record.hold)
            return CheckoutStart(hold: record.hold, paymentIntentID: intent.id, clientSecret: intent.clientSecret)
        case .keptEarlier(let record, let cancel):
            return try await keptEarlier(record, cancelling: cancel)
        case .holdEnded(_, let cancel):
            await runner.attempt(cancel)
            throw PortalError.failedPrecondition(
                .holdExpired, "The hold ended before its payment was ready; start again.")
        }
    }

    /// Releases the hold this call took and could not pay for (with
    /// `orphan`, also cancels the PaymentIntent made for it), even when the
    /// call itself was cancelled or is past its deadline — which is what
    /// usually makes the release necessary. The PaymentIntent's cancellation
    /// is tried at once while the call is still live, and otherwise left to
    /// the outbox worker (its row is due at once). If the release fails, the
    /// hold simply expires; it never holds a slot for long.
    private func release(
        _ token: HoldToken, of client: ClientID, reason: HoldEndReason, cancelling orphan: String? = nil
    ) async {
        do {
            let (_, cancel) = try await store.releaseUnpaidHold(
                token, of: client, reason: reason, cancelling: orphan)
            if let cancel, !Task.isCancelled, !CallDeadline.isPast {
                await runner.attempt(cancel)
            }
        } catch {
            logger.error("Could not release the hold", metadata: ["error": "\(error)"])
        }
    }

    /// How long before an earlier run's last recorded change
    /// (``PortalStore/earlierRunsLastChange``) start-up repair looks for
    /// the PaymentIntents its unfinished `StartCheckout`s created: such a
    /// call was under way when the run stopped, and a `StartCheckout` does
    /// not take minutes between creating its PaymentIntent and writing its
    /// hold. It also covers the provider's clock running behind ours.
    static let orphanSearchMarginSeconds: Int64 = 15 * 60

    /// Start-up repair, after ``PortalStore/releaseInterruptedCheckouts()``:
    /// an earlier run that stopped mid-`StartCheckout` may have left an open
    /// PaymentIntent that no hold or booking names — created before the
    /// hold was written (an uncontested block), or before it was attached
    /// to the hold taken first (which the store has just released). Nobody
    /// was ever shown its client secret. The provider's PaymentIntents
    /// created since ``orphanSearchMarginSeconds`` before the earlier runs'
    /// last change are read, and each open one that this database's
    /// checkouts created in an earlier run (metadata: this store's id, a run
    /// id not this process's) and that no hold or booking names gets its
    /// cancellation queued in the outbox, tried at once. Another
    /// deployment's PaymentIntents on the same provider account carry
    /// another store id and are never touched; this process's own (a
    /// `StartCheckout` running right now) carry this run's id.
    ///
    /// - Returns: how many cancellations were queued, or `nil` when the
    ///   provider could not be reached (logged; the sweeper tries again at
    ///   its next round). A provider that refuses the listing (not a
    ///   transient failure) is logged as an error and not asked again.
    func cancelOrphanedPaymentIntents() async -> Int? {
        let since = store.earlierRunsLastChange.unixSeconds - Self.orphanSearchMarginSeconds
        let intents: [PaymentIntent]
        do {
            intents = try await gateway.paymentIntents(createdSince: since, limit: 10_000)
        } catch {
            let kind = PaymentFailureKind(classifying: error)
            guard kind == .unavailable else {
                // Asking again would be refused again (a key without the
                // right to list, say): not retried until the next start.
                logger.error(
                    "The provider refused to list PaymentIntents: those unfinished checkouts of an earlier run may have left stay open",
                    metadata: ["failure": "\(kind)", "error": "\(error)"])
                return 0
            }
            logger.warning(
                "Could not list the PaymentIntents unfinished checkouts of an earlier run may have left",
                metadata: ["error": "\(error)"])
            return nil
        }
        var queued = 0
        for intent in intents where !Task.isCancelled {
            guard CheckoutMetadata.isFromAnEarlierRun(intent, storeID: store.storeID, runID: runID),
                intent.status != .canceled, intent.status != .succeeded
            else { continue }
            do {
                if let cancel = try await store.queueCancellationOfUnclaimedPaymentIntent(intent.id) {
                    queued += 1
                    await runner.attempt(cancel)
                }
            } catch {
                logger.warning(
                    "Could not queue the cancellation of an unfinished checkout's PaymentIntent",
                    metadata: ["payment_intent": "\(intent.id)", "error": "\(error)"])
            }
        }
        return queued
    }

    /// The PaymentIntent that pays for the hold `token` (taken or about to
    /// be): manual capture, metadata naming the hold, and the idempotency
    /// key derived from the hold, the same on any retry for it.
    private func createPaymentIntent(
        forHold token: HoldToken, client: ClientID, block: BlockID, service: ServiceCode,
        amountCents: Int64, currency: String
    ) async throws -> PaymentIntent {
        // Past the call's deadline no PaymentIntent is made for it.
        try CallDeadline.check()
        return try await gateway.createPaymentIntent(
            amountCents: Int(amountCents), currency: currency,
            metadata: CheckoutMetadata.of(
                token, client: client, block: block, service: service, store: store.storeID, run: runID),
            idempotencyKey: PaymentCommand.idempotencyKey(forHold: token, operation: "create"))
    }

    /// A concurrent retry's hold won: cancels the PaymentIntent this call
    /// made and answers the one the hold names.
    private func keptEarlier(_ record: CheckoutHold, cancelling cancel: PaymentCommand) async throws
        -> CheckoutStart
    {
        await runner.attempt(cancel)
        guard let paid = CheckoutStart(paid: record) else { throw PortalError.paymentProviderUnavailable }
        return paid
    }

    private func logStarted(_ hold: CapacityHold, paymentIntentID: String) {
        logger.info(
            "Checkout started",
            metadata: [
                "block_id": "\(hold.block)", "service_code": "\(hold.service)", "client_id": "\(hold.client)",
                "payment_intent": "\(paymentIntentID)", "expires_at": "\(hold.expiresAt)",
            ])
    }

    // MARK: FinalizeCheckout

    /// Turns the caller's paid hold into a booking (`FinalizeCheckout`).
    /// Idempotent: the same arguments return the same booking, and the
    /// payment is captured once.
    ///
    /// - Throws: ``PortalError``: `INVALID_PAYMENT_INTENT_ID`;
    ///   `HOLD_NOT_FOUND` (also for another client's hold); `PAYMENT_MISMATCH`
    ///   (another hold's PaymentIntent, another amount, currency or metadata)
    ///   and `PAYMENT_NOT_CONFIRMED` (not paid, declined, awaiting 3-D Secure)
    ///   with nothing written; `CAPACITY_GONE` (expired and full: the
    ///   payment was cancelled, never charged), `HOLD_EXPIRED`,
    ///   `HOLD_CANCELLED`; unavailable / `PAYMENT_PROVIDER_UNAVAILABLE`.
    public func finalize(for client: ClientID, holdToken token: HoldToken, paymentIntentID: String)
        async throws -> Booking
    {
        warnIfSimulated()
        try Self.validatePaymentIntentID(paymentIntentID)
        // The hold this process just started with this PaymentIntent: no
        // need to read it back before asking the provider (StartedHolds).
        // Anything short of a verified payment takes the full path below,
        // with the PaymentIntent already read if it was.
        var retrieved: PaymentIntent?
        if let started = startedHolds.take(token, client: client, paymentIntentID: paymentIntentID) {
            retrieved = try? await gateway.retrievePaymentIntent(id: paymentIntentID)
            if let retrieved, let verified = try? PaymentVerification.verify(retrieved, for: started) {
                return try await settle(token, of: client, payment: verified, actor: "client")
            }
            try Task.checkCancellation()
        }
        let record = try await store.checkoutHold(token, of: client)
        guard record.hold.paymentIntentID == paymentIntentID else {
            throw PortalError.failedPrecondition(
                .paymentMismatch, "The PaymentIntent is not the one created for this hold.")
        }
        switch record.hold.state {
        case .converted:
            if let booking = try await store.booking(madeFrom: token) { return booking }
        case .cancelled, .expired:
            throw (record.endReason ?? .expiredUnpaid).finalizeRefusal ?? Self.holdEnded
        case .active:
            break
        }

        let intent: PaymentIntent
        do {
            if let retrieved {
                intent = retrieved
            } else {
                intent = try await gateway.retrievePaymentIntent(id: paymentIntentID)
            }
        } catch {
            if error is CancellationError { throw error }
            logger.warning("Could not read the PaymentIntent", metadata: ["payment_intent": "\(paymentIntentID)", "error": "\(error)"])
            if PaymentFailureKind(classifying: error) == .notFound {
                throw PortalError.failedPrecondition(.paymentMismatch, "The payment provider does not know this PaymentIntent.")
            }
            throw PortalError.paymentProviderUnavailable
        }
        let verified = try PaymentVerification.verify(intent, for: record.hold)
        return try await settle(token, of: client, payment: verified, actor: "client")
    }

    /// Books a verified payment, then makes the first attempt at the capture
    /// (or, when the booking was refused, at the cancellation).
    func settle(_ token: HoldToken, of client: ClientID?, payment: VerifiedPayment, actor: String)
        async throws -> Booking
    {
        let settlement = try await store.settlePaidHold(
            token, of: client, payment: payment, actor: actor,
            claimingCaptureForSeconds: configuration.outboxLeaseSeconds)
        switch settlement {
        case .booked(let booking, let capture):
            configuration.faults.bookingCommitted()
            logger.info(
                "Booking created",
                metadata: [
                    "booking_id": "\(booking.id)", "block_id": "\(booking.block.map { "\($0)" } ?? "-")",
                    "client_id": "\(booking.client)", "payment_intent": "\(booking.paymentIntentID)",
                    "source": "\(actor)",
                ])
            guard let capture else { return booking }
            // Committed: from here on nothing may fail the call. The capture
            // is in the outbox, claimed for this first attempt; the outbox
            // worker retries it if this attempt does not finish. A capture
            // made is recorded in the background: the answer does not wait
            // for that write (docs/checkout.md, "Recording the capture").
            switch await runner.attempt(claimed: capture, recordingCaptureOf: booking.id) {
            case .done(.captured):
                return booking.with(paymentState: .captured)
            case .done(.canceled):
                return booking.with(paymentState: .canceled)
            case .done, .notClaimed, .retryLater:
                return booking
            }
        case .alreadyBooked(let booking):
            return booking
        case .refused(let reason, let cancel):
            logger.notice(
                "Paid hold could not be booked; its payment is being released",
                metadata: ["reason": "\(reason.rawValue)", "payment_intent": "\(payment.paymentIntentID)"])
            if let cancel { await runner.attempt(cancel) }
            throw reason.finalizeRefusal ?? Self.holdEnded
        case .closed(_, let reason):
            throw (reason ?? .expiredUnpaid).finalizeRefusal ?? Self.holdEnded
        }
    }

    // MARK: CancelCheckout

    /// Releases the caller's hold and cancels its PaymentIntent
    /// (`CancelCheckout`). Idempotent.
    ///
    /// - Throws: ``PortalError`` `HOLD_NOT_FOUND`, `HOLD_ALREADY_BOOKED`.
    public func cancel(for client: ClientID, holdToken token: HoldToken) async throws {
        switch try await store.cancelCheckout(token, of: client) {
        case .cancelled(let cancel):
            logger.info("Checkout cancelled", metadata: ["client_id": "\(client)"])
            if let cancel { await runner.attempt(cancel) }
        case .alreadyEnded:
            break
        }
    }

    // MARK: Helpers

    /// A PaymentIntent id as Stripe writes them: `pi_` then letters, digits
    /// and underscores, at most 255 characters.
    static func validatePaymentIntentID(_ id: String) throws(PortalError) {
        let bytes = Array(id.utf8)
        guard (4...255).contains(bytes.count), id.hasPrefix("pi_"),
            bytes.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            })
        else {
            throw .invalidArgument(
                .invalidPaymentIntentID, "The PaymentIntent id is not one Stripe issues (pi_…).",
                field: "payment_intent_id")
        }
    }

    private static let holdEnded = PortalError.failedPrecondition(.holdExpired, "This hold has ended.")

    private func warnIfSimulated() {
        guard let warning = gateway.simulationWarning,
            let checkouts = simulationWarnings.checkout(at: .now)
        else { return }
        logger.warning("\(warning)", metadata: ["checkouts_since_last_warning": "\(checkouts)"])
    }
}
