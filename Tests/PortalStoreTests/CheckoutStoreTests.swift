import Foundation
import PortalDomain
import PortalStore
import XCTest

/// The checkout's transactions on a real SQLite file: attaching a payment,
/// settling a paid hold (live, expired with room, expired without), cancelling,
/// and the outbox rows each one queues.
final class CheckoutStoreTests: XCTestCase {
    private var fixture: StoreFixture!
    private var block: TimetableBlock!

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
        try await fixture.service("walk", minutes: 60, price: 1500)
        block = try await fixture.block("2025-10-08", "09:00", "12:00", "Morning Run")
        try await fixture.capacity(block, "walk", 1)
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    private func paidHold(_ client: ClientID, pi: String) async throws -> CapacityHold {
        let hold = try await fixture.hold(client, block, "walk").hold
        let attached = try await fixture.store.attachPayment(
            pi, clientSecret: "\(pi)_secret_x", toHold: hold.token, of: client)
        guard case .attached(let record) = attached else { throw XCTSkip("not attached: \(attached)") }
        return record.hold
    }

    private func payment(_ pi: String, captured: Bool = false) -> VerifiedPayment {
        VerifiedPayment(paymentIntentID: pi, amountCents: 1500, currency: "gbp", isCaptured: captured)
    }

    func testAttachingIsIdempotentAndKeepsTheClientSecret() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_1")
        let again = try await fixture.store.attachPayment(
            "pi_1", clientSecret: "pi_1_secret_x", toHold: hold.token, of: client)
        guard case .attached(let record) = again else { return XCTFail("\(again)") }
        XCTAssertEqual(record.hold.paymentIntentID, "pi_1")
        XCTAssertEqual(record.clientSecret, "pi_1_secret_x")
        XCTAssertFalse(String(describing: record).contains("secret"))
    }

    func testASecondPaymentIntentForTheSameHoldIsCancelledNotAttached() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_first")
        let outcome = try await fixture.store.attachPayment(
            "pi_second", clientSecret: "s", toHold: hold.token, of: client)
        guard case .keptEarlier(let record, let cancel) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(record.hold.paymentIntentID, "pi_first")
        XCTAssertEqual(cancel.kind, .cancel)
        XCTAssertEqual(cancel.paymentIntentID, "pi_second")
    }

    func testSettlingALiveHoldBooksItQueuesOneCaptureAndIsIdempotent() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_1")
        let first = try await fixture.store.settlePaidHold(
            hold.token, of: client, payment: payment("pi_1"), actor: "client")
        guard case .booked(let booking, let capture?) = first else { return XCTFail("\(first)") }
        XCTAssertEqual(booking.paymentState, .capturePending)
        XCTAssertEqual(booking.blockLabel, "Morning Run")
        XCTAssertEqual(booking.startTime.description, "09:00")
        XCTAssertEqual(booking.endTime.description, "10:00")
        XCTAssertEqual(capture.idempotencyKey, "portal-hold-\(hold.token.rawValue)-capture")

        let second = try await fixture.store.settlePaidHold(
            hold.token, of: client, payment: payment("pi_1"), actor: "client")
        XCTAssertEqual(second, .alreadyBooked(booking))
        let commands = try await fixture.store.paymentCommands(for: "pi_1")
        XCTAssertEqual(commands.map(\.kind), [.capture])
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual([usage.booked, usage.held, usage.remaining], [1, 0, 0])
        XCTAssertEqual(try fixture.auditCount(event: "hold.converted"), 1)
        XCTAssertEqual(try fixture.auditCount(event: "booking.created"), 1)
    }

    func testAnotherClientsHoldIsNotFound() async throws {
        let owner = try await fixture.client("Owner")
        let other = try await fixture.client("Other")
        let hold = try await paidHold(owner, pi: "pi_1")
        let before = try fixture.snapshot()
        await assertPortalError(.notFound, .holdNotFound) {
            try await self.fixture.store.settlePaidHold(
                hold.token, of: other, payment: self.payment("pi_1"), actor: "client")
        }
        XCTAssertEqual(try fixture.snapshot(), before)
    }

    func testAPaymentOfAnotherAmountIsRefusedAndNothingIsWritten() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_1")
        let before = try fixture.snapshot()
        await assertPortalError(.failedPrecondition, .paymentMismatch) {
            try await self.fixture.store.settlePaidHold(
                hold.token, of: client,
                payment: VerifiedPayment(paymentIntentID: "pi_1", amountCents: 1, currency: "gbp", isCaptured: false),
                actor: "client")
        }
        XCTAssertEqual(try fixture.snapshot(), before)
    }

    func testAnExpiredHoldIsBookedWhenThereIsStillRoom() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_1")
        fixture.clock.advance(bySeconds: fixture.holdLifetimeSeconds + 5)
        let outcome = try await fixture.store.settlePaidHold(
            hold.token, of: client, payment: payment("pi_1"), actor: "client")
        guard case .booked = outcome else { return XCTFail("\(outcome)") }
    }

    func testAnExpiredHoldWhoseRoomWasTakenIsRefusedAndItsPaymentCancelled() async throws {
        let client = try await fixture.client("Late")
        let hold = try await paidHold(client, pi: "pi_late")
        fixture.clock.advance(bySeconds: fixture.holdLifetimeSeconds + 5)
        let other = try await fixture.client("Other")
        _ = try await fixture.hold(other, block, "walk")

        let outcome = try await fixture.store.settlePaidHold(
            hold.token, of: client, payment: payment("pi_late"), actor: "client")
        guard case .refused(.capacityGone, let cancel?) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(cancel.paymentIntentID, "pi_late")
        XCTAssertEqual(cancel.kind, .cancel)
        // A repeated call writes nothing more and says the same.
        let again = try await fixture.store.settlePaidHold(
            hold.token, of: client, payment: payment("pi_late"), actor: "client")
        XCTAssertEqual(again, .closed(.expired, .capacityGone))
        let bookings = try await fixture.store.bookings(of: client)
        XCTAssertTrue(bookings.isEmpty)
    }

    func testCancellingReleasesTheSlotAndQueuesTheCancellationOnce() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_1")
        let first = try await fixture.store.cancelCheckout(hold.token, of: client)
        guard case .cancelled(let cancel?) = first else { return XCTFail("\(first)") }
        XCTAssertEqual(cancel.paymentIntentID, "pi_1")
        let second = try await fixture.store.cancelCheckout(hold.token, of: client)
        XCTAssertEqual(second, .alreadyEnded(.cancelled, .cancelledByClient))
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.remaining, 1)
        let commands = try await fixture.store.paymentCommands(for: "pi_1")
        XCTAssertEqual(commands.count, 1)
    }

    func testTheOutboxClaimsEachRowOnceAndCompletingMovesTheBookingToCaptured() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_1")
        let settled = try await fixture.store.settlePaidHold(
            hold.token, of: client, payment: payment("pi_1"), actor: "client")
        guard case .booked(_, let capture?) = settled else { return XCTFail("\(settled)") }

        let claimed = try await fixture.store.claimPaymentCommand(capture.id, leaseSeconds: 60)
        XCTAssertEqual(claimed?.attempts, 1)
        let stolen = try await fixture.store.claimPaymentCommand(capture.id, leaseSeconds: 60)
        XCTAssertNil(stolen, "a claimed row is not due until its lease runs out")
        let due = try await fixture.store.pendingPaymentCommands(dueOnly: true)
        XCTAssertTrue(due.isEmpty)

        let completed = try await fixture.store.completePaymentCommand(capture.id, result: .captured)
        XCTAssertTrue(completed)
        let completedAgain = try await fixture.store.completePaymentCommand(capture.id, result: .captured)
        XCTAssertFalse(completedAgain)
        let bookings = try await fixture.store.bookings(of: client)
        XCTAssertEqual(bookings.map(\.paymentState), [.captured])
        XCTAssertEqual(try fixture.auditCount(event: "payment.captured"), 1)
        XCTAssertEqual(try fixture.auditCount(event: "booking.payment_captured"), 1)
    }

    func testACaptureThatFoundItsPaymentCanceledMovesOnlyItsOwnBooking() async throws {
        try await fixture.capacity(block, "walk", 2)
        let client = try await fixture.client()
        let first = try await paidHold(client, pi: "pi_1")
        let other = try await fixture.client()
        let second = try await paidHold(other, pi: "pi_2")
        let settledFirst = try await fixture.store.settlePaidHold(
            first.token, of: client, payment: payment("pi_1"), actor: "client")
        _ = try await fixture.store.settlePaidHold(
            second.token, of: other, payment: payment("pi_2"), actor: "client")
        guard case .booked(let booking, let capture?) = settledFirst else {
            return XCTFail("\(settledFirst)")
        }
        _ = try await fixture.store.claimPaymentCommand(capture.id, leaseSeconds: 60)

        let completed = try await fixture.store.completePaymentCommand(capture.id, result: .canceled)
        XCTAssertTrue(completed)
        let mine = try await fixture.store.bookings(of: client)
        let theirs = try await fixture.store.bookings(of: other)
        XCTAssertEqual(mine.map(\.paymentState), [.canceled])
        XCTAssertEqual(theirs.map(\.paymentState), [.capturePending])
        XCTAssertEqual(try fixture.auditCount(event: "payment.capture_found_canceled"), 1)
        XCTAssertEqual(try fixture.auditCount(event: "booking.payment_canceled"), 1)
        let commands = try await fixture.store.paymentCommands(for: "pi_1")
        XCTAssertEqual(commands.map(\.attempts), [1])
        XCTAssertNotNil(commands.first?.doneAt)
        XCTAssertEqual(mine.map(\.id), [booking.id])

        do {
            _ = try await fixture.store.completePaymentCommand(capture.id + 1_000, result: .captured)
            XCTFail("an outbox row that does not exist cannot be completed")
        } catch {
            // Refused as an internal error: the caller named a row that is not there.
            XCTAssertTrue("\(error)".contains("outbox row"), "\(error)")
        }
    }

    /// FinalizeCheckout answers once the provider has captured and records
    /// it in the background: readers show the booking `captured` while the
    /// write waits (here: for another connection's write lock), and the
    /// write, once it runs, records every capture waiting exactly once.
    func testCapturesRecordedInBackgroundShowCapturedAtOnceAndAreWrittenOnceTogether() async throws {
        try await fixture.capacity(block, "walk", 2)
        var settledCaptures: [(PaymentCommand, Booking)] = []
        var tokens: [HoldToken] = []
        for (name, pi) in [("Ann", "pi_1"), ("Bob", "pi_2")] {
            let client = try await fixture.client(name)
            let hold = try await paidHold(client, pi: pi)
            let settled = try await fixture.store.settlePaidHold(
                hold.token, of: client, payment: payment(pi), actor: "client", claimingCaptureForSeconds: 180)
            guard case .booked(let booking, let capture?) = settled else { return XCTFail("\(settled)") }
            settledCaptures.append((capture, booking))
            tokens.append(hold.token)
        }

        // Another connection holds the write lock: the store's writer waits.
        let blocker = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 5000)
        defer { blocker.close() }
        try blocker.run("BEGIN IMMEDIATE")
        for (capture, booking) in settledCaptures {
            fixture.store.recordCaptureInBackground(capture, of: booking.id)
        }
        let (ann, bob) = (settledCaptures[0].1, settledCaptures[1].1)
        let annsBookings = try await fixture.store.bookings(of: ann.client)
        XCTAssertEqual(annsBookings.map(\.paymentState), [.captured])
        let theDay = try await fixture.store.bookings(on: ann.date)
        XCTAssertEqual(theDay.map(\.paymentState), [.captured, .captured])
        let byHold = try await fixture.store.booking(madeFrom: tokens[1])
        XCTAssertEqual(byHold?.id, bob.id)
        XCTAssertEqual(byHold?.paymentState, .captured)
        // … while the rows still say what was committed.
        XCTAssertEqual(try blocker.integer("SELECT count(*) FROM bookings WHERE payment_state = 'capture_pending'"), 2)
        XCTAssertEqual(try blocker.integer("SELECT count(*) FROM outbox WHERE done_at IS NULL"), 2)
        try blocker.run("COMMIT")

        try await fixture.store.captureRecordsWritten()
        XCTAssertEqual(try fixture.auditCount(event: "payment.captured"), 2)
        XCTAssertEqual(try fixture.auditCount(event: "booking.payment_captured"), 2)
        XCTAssertEqual(try blocker.integer("SELECT count(*) FROM bookings WHERE payment_state = 'captured'"), 2)
        XCTAssertEqual(try blocker.integer("SELECT count(*) FROM outbox WHERE done_at IS NOT NULL"), 2)
        // The rows are done: completing one again changes nothing.
        let again = try await fixture.store.completePaymentCommand(settledCaptures[0].0.id, result: .captured)
        XCTAssertFalse(again)
        XCTAssertEqual(try fixture.auditCount(event: "payment.captured"), 2)
    }

    func testTheSweepersListHasOnlyPaidHoldsPastTheGrace() async throws {
        let client = try await fixture.client()
        _ = try await paidHold(client, pi: "pi_1")
        var waiting = try await fixture.store.holdsAwaitingSettlement(graceSeconds: 60)
        XCTAssertTrue(waiting.isEmpty)
        fixture.clock.advance(bySeconds: fixture.holdLifetimeSeconds + 30)
        waiting = try await fixture.store.holdsAwaitingSettlement(graceSeconds: 60)
        XCTAssertTrue(waiting.isEmpty, "still within the grace")
        fixture.clock.advance(bySeconds: 31)
        waiting = try await fixture.store.holdsAwaitingSettlement(graceSeconds: 60)
        XCTAssertEqual(waiting.map(\.hold.paymentIntentID), ["pi_1"])
    }

    func testStartUpRepairReleasesHoldsLeftWithoutAPaymentIntentByAnEarlierRun() async throws {
        let client = try await fixture.client()
        let interrupted = try await fixture.hold(client, block, "walk").hold
        // A new run starts in the same second: what it takes itself, even
        // then, is not the earlier run's.
        try await fixture.reopen()
        let other = try await fixture.client("Other")
        try await fixture.capacity(block, "walk", 2)
        _ = try await fixture.hold(other, block, "walk")

        let released = try await fixture.store.releaseInterruptedCheckouts()
        XCTAssertEqual(released.map(\.token), [interrupted.token])
        XCTAssertEqual(released.first?.paymentIntentID, nil)
        let record = try await fixture.store.checkoutHold(interrupted.token, of: client)
        XCTAssertEqual(record.hold.state, .cancelled)
        XCTAssertEqual(record.endReason, .interrupted)
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 1, "the hold this run took stays")
    }

    func testStartUpRepairTakesOnlyOutboxRowsAnEarlierRunLeft() async throws {
        let client = try await fixture.client()
        try await fixture.capacity(block, "walk", 3)
        let left = try await paidHold(client, pi: "pi_1")
        guard case .booked(_, let leftCapture?) = try await fixture.store.settlePaidHold(
            left.token, of: client, payment: payment("pi_1"), actor: "client", claimingCaptureForSeconds: 60)
        else { return XCTFail("not booked") }
        // The process dies mid-capture; the next one starts in the same second
        // and books another payment, its capture under its own lease.
        try await fixture.reopen()
        let other = try await fixture.client("Other")
        let ours = try await paidHold(other, pi: "pi_2")
        guard case .booked(_, let ourCapture?) = try await fixture.store.settlePaidHold(
            ours.token, of: other, payment: payment("pi_2"), actor: "client", claimingCaptureForSeconds: 60)
        else { return XCTFail("not booked") }

        let repair = try await fixture.store.pendingPaymentCommands(dueOnly: false, leftByEarlierRun: true)
        XCTAssertEqual(repair.map(\.id), [leftCapture.id], "only the earlier run's row, never one this run is attempting")
        let all = try await fixture.store.pendingPaymentCommands(dueOnly: false)
        XCTAssertEqual(Set(all.map(\.id)), [leftCapture.id, ourCapture.id])
    }

    // MARK: StartCheckout in one write (pre-check, then the paid hold)

    func testThePrecheckWritesNothingAndFindsTheClientsLiveHold() async throws {
        let client = try await fixture.client()
        let before = try fixture.snapshot()
        let (service, free) = try await fixture.store.serviceAndCheckoutPrecheck(
            for: client, block: block.id, service: ServiceCode("walk"))
        XCTAssertEqual(service.code, try ServiceCode("walk"))
        XCTAssertEqual(service.priceCents, 1500)
        XCTAssertEqual(try free.get(), .available(remaining: 1))
        XCTAssertEqual(try fixture.snapshot(), before)

        let hold = try await paidHold(client, pi: "pi_1")
        let retry = try await fixture.store.serviceAndCheckoutPrecheck(
            for: client, block: block.id, service: ServiceCode("walk")
        ).precheck.get()
        guard case .existing(let record) = retry else { return XCTFail("\(retry)") }
        XCTAssertEqual(record.hold.token, hold.token)
        XCTAssertEqual(record.clientSecret, "pi_1_secret_x")

        // The checks' refusal is returned, not thrown (the service is known).
        let other = try await fixture.client("Other")
        let (_, full) = try await fixture.store.serviceAndCheckoutPrecheck(
            for: other, block: block.id, service: ServiceCode("walk"))
        assertPortalErrorSync(.failedPrecondition, .capacityFull) { try full.get() }

        await assertPortalError(.notFound, .unknownService) {
            _ = try await self.fixture.store.serviceAndCheckoutPrecheck(
                for: other, block: self.block.id, service: ServiceCode("daycare"))
        }
    }

    func testAPaidHoldIsTakenWithItsPaymentIntentInOneWrite() async throws {
        let client = try await fixture.client()
        let token = HoldToken.generate()
        let outcome = try await fixture.store.createPaidHold(
            token, for: client, block: block.id, service: ServiceCode("walk"), amountCents: 1500,
            paymentIntentID: "pi_1", clientSecret: "pi_1_secret_x")
        guard case .held(let record) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(record.hold.token, token)
        XCTAssertEqual(record.hold.paymentIntentID, "pi_1")
        XCTAssertEqual(record.hold.amountCents, 1500)
        XCTAssertEqual(record.clientSecret, "pi_1_secret_x")
        let stored = try await fixture.store.checkoutHold(token, of: client)
        XCTAssertEqual(stored, record)
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual([usage.booked, usage.held, usage.remaining], [0, 1, 0])
        XCTAssertEqual(try fixture.auditCount(event: "hold.created"), 1)
        let commands = try await fixture.store.paymentCommands(for: "pi_1")
        XCTAssertTrue(commands.isEmpty)
    }

    func testARefusedPaidHoldQueuesTheCancellationOfItsPaymentIntentAndHoldsNothing() async throws {
        let first = try await fixture.client("First")
        _ = try await paidHold(first, pi: "pi_first")
        let late = try await fixture.client("Late")
        let outcome = try await fixture.store.createPaidHold(
            HoldToken.generate(), for: late, block: block.id, service: ServiceCode("walk"), amountCents: 1500,
            paymentIntentID: "pi_late", clientSecret: "s")
        guard case .refused(let refusal, let cancel) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(refusal.reason, .capacityFull)
        XCTAssertEqual(cancel.kind, .cancel)
        XCTAssertEqual(cancel.paymentIntentID, "pi_late")
        let queued = try await fixture.store.paymentCommands(for: "pi_late")
        XCTAssertEqual(queued.count, 1, "committed")
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 1)
        XCTAssertEqual(try fixture.auditCount(event: "hold.created"), 1)
    }

    func testAPaidHoldAtAnOldPriceIsRefusedWithTheNewPrice() async throws {
        let client = try await fixture.client()
        try await fixture.service("walk", minutes: 60, price: 1800)
        let outcome = try await fixture.store.createPaidHold(
            HoldToken.generate(), for: client, block: block.id, service: ServiceCode("walk"), amountCents: 1500,
            paymentIntentID: "pi_1", clientSecret: "s")
        guard case .refused(let refusal, let cancel) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(refusal.reason, .priceChanged)
        XCTAssertEqual(refusal.details["price_cents"], "1800")
        XCTAssertEqual(cancel.paymentIntentID, "pi_1")
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 0)
    }

    func testAConcurrentRetryKeepsTheFirstPaymentIntentAndCancelsTheSecond() async throws {
        let client = try await fixture.client()
        let first = try await fixture.store.createPaidHold(
            HoldToken.generate(), for: client, block: block.id, service: ServiceCode("walk"), amountCents: 1500,
            paymentIntentID: "pi_first", clientSecret: "s1")
        guard case .held(let kept) = first else { return XCTFail("\(first)") }
        let second = try await fixture.store.createPaidHold(
            HoldToken.generate(), for: client, block: block.id, service: ServiceCode("walk"), amountCents: 1500,
            paymentIntentID: "pi_second", clientSecret: "s2")
        guard case .keptEarlier(let record, let cancel) = second else { return XCTFail("\(second)") }
        XCTAssertEqual(record, kept)
        XCTAssertEqual(cancel.paymentIntentID, "pi_second")
        let usage = try await fixture.usage(block, "walk")
        XCTAssertEqual(usage.held, 1)
    }

    func testAHoldTakenWithoutAPaymentGetsTheNewPaymentIntent() async throws {
        let client = try await fixture.client()
        let unpaid = try await fixture.hold(client, block, "walk").hold
        let outcome = try await fixture.store.createPaidHold(
            unpaid.token, for: client, block: block.id, service: ServiceCode("walk"), amountCents: 1500,
            paymentIntentID: "pi_1", clientSecret: "s")
        guard case .held(let record) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(record.hold.token, unpaid.token)
        XCTAssertEqual(record.hold.paymentIntentID, "pi_1")
        XCTAssertEqual(try fixture.auditCount(event: "hold.payment_attached"), 1)
    }

    func testSettlingCanWriteTheCaptureAlreadyClaimedByTheCaller() async throws {
        let client = try await fixture.client()
        let hold = try await paidHold(client, pi: "pi_1")
        let settled = try await fixture.store.settlePaidHold(
            hold.token, of: client, payment: payment("pi_1"), actor: "client", claimingCaptureForSeconds: 60)
        guard case .booked(_, let capture?) = settled else { return XCTFail("\(settled)") }
        XCTAssertEqual(capture.attempts, 1)
        XCTAssertEqual(capture.nextAttemptAt, fixture.clock.now.adding(seconds: 60))
        let due = try await fixture.store.pendingPaymentCommands(dueOnly: true)
        XCTAssertTrue(due.isEmpty, "the outbox worker does not take a row under the caller's lease")
        let stolen = try await fixture.store.claimPaymentCommand(capture.id, leaseSeconds: 60)
        XCTAssertNil(stolen)
        let commands = try await fixture.store.paymentCommands(for: "pi_1")
        XCTAssertEqual(commands, [capture])
        fixture.clock.advance(bySeconds: 61)
        let dueLater = try await fixture.store.pendingPaymentCommands(dueOnly: true)
        XCTAssertEqual(dueLater.map(\.id), [capture.id], "an unfinished attempt is the worker's once the lease runs out")
    }
}
