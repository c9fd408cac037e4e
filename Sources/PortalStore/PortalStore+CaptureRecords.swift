import Dispatch
import PortalDomain

/// Captures the provider has made whose completion — the outbox row done,
/// the booking `captured`, two audit entries — is being written in the
/// background (docs/checkout.md, "Recording the capture").
///
/// `FinalizeCheckout` answers as soon as the provider says the money is
/// captured; the completion is queued on the writer before that answer, so
/// every write that comes after it (a reschedule, another finalize) finds
/// it done. Completions that arrive while one is waiting for the writer
/// join it: one write records many. Reads on a reader connection may start
/// before that write commits, so until a little while after it has, the
/// bookings are remembered here and shown `captured`.
///
/// Showing `captured` for one of these is never wrong, only early: the
/// provider has captured the money, and the row can only move from
/// `capture_pending` to `captured`. A crash before the write commits
/// leaves the outbox row claimed; the outbox worker captures again with the
/// same idempotency key (the provider answers it is done) and records it,
/// at start-up or once the lease runs out.
final class CaptureRecords: Sendable {
    /// How long a booking stays remembered after its completion was written
    /// (or failed), for reads whose snapshot began before the commit.
    static let keptAfterWriteNanoseconds: UInt64 = 2_000_000_000

    private struct State {
        /// Completions not taken by a write yet; while there are any, a
        /// write that will take them is queued.
        var waiting: [Completion] = []
        /// Bookings shown `captured`.
        var captured: Set<Int64> = []
        /// Bookings whose completion was written (or failed), oldest first,
        /// with when; forgotten from `captured` after ``keptAfterWriteNanoseconds``.
        var written: [(booking: Int64, at: UInt64)] = []
        var writtenHead = 0
    }

    private let state = Locked(State())

    /// One capture to record: its outbox row and its booking.
    struct Completion: Sendable {
        let outboxID: Int64
        let booking: Int64
    }

    /// Remembers `booking` as captured and adds its outbox row to the
    /// completions waiting; true when the caller must queue a write to take
    /// them (none is queued yet).
    func add(outboxID: Int64, booking: BookingID) -> Bool {
        state.withLock { state in
            state.captured.insert(booking.rawValue)
            defer { state.waiting.append(Completion(outboxID: outboxID, booking: booking.rawValue)) }
            return state.waiting.isEmpty
        }
    }

    /// The completions waiting, for the queued write that records them;
    /// later ones queue a write of their own.
    func take() -> [Completion] {
        state.withLock { state in
            defer { state.waiting = [] }
            return state.waiting
        }
    }

    /// Notes that `completions` were written (or that their write failed),
    /// and forgets bookings written long enough ago.
    func written(_ completions: [Completion]) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { state in
            for completion in completions { state.written.append((completion.booking, now)) }
            while state.writtenHead < state.written.count,
                now - state.written[state.writtenHead].at > Self.keptAfterWriteNanoseconds
            {
                state.captured.remove(state.written[state.writtenHead].booking)
                state.writtenHead += 1
            }
            if state.writtenHead > 1024, state.writtenHead * 2 > state.written.count {
                state.written.removeFirst(state.writtenHead)
                state.writtenHead = 0
            }
        }
    }

    /// `booking` as a reader should show it: `captured` while its capture
    /// is remembered here and the row still says `capture_pending`.
    func showing(_ booking: Booking) -> Booking {
        guard booking.paymentState == .capturePending,
            state.withLock({ $0.captured.contains(booking.id.rawValue) })
        else { return booking }
        return booking.with(paymentState: .captured)
    }
}

extension PortalStore {
    /// Records in the background that the capture of `command` (a capture
    /// row this process claimed, for `booking`) succeeded: the outbox row
    /// done, the booking `captured`, their audit entries — the same write as
    /// ``completePaymentCommand(_:result:)``, joined with the other
    /// completions waiting for the writer. Returns at once; the write is
    /// queued before it returns, so any write queued later finds it done,
    /// and until a little after it has committed the readers show the
    /// booking `captured` (``CaptureRecords``).
    public func recordCaptureInBackground(_ command: PaymentCommand, of booking: BookingID) {
        precondition(command.kind == .capture, "only a capture is recorded in the background")
        guard captureRecords.add(outboxID: command.id, booking: booking) else { return }
        // Taken once, by the write's first run (a write may run again when
        // its group is undone) or, for a write that never ran (the store
        // closed), when it finishes — so that later completions queue a
        // write of their own.
        let taken = Locked<[CaptureRecords.Completion]?>(nil)
        let completions: @Sendable () -> [CaptureRecords.Completion] = { [captureRecords] in
            taken.withLock { taken in
                if taken == nil { taken = captureRecords.take() }
                return taken!
            }
        }
        writer.submit(changes: []) { [clock] db in
            let now = clock.now
            for completion in completions() {
                _ = try Self.complete(db, completion.outboxID, result: .captured, now: now)
            }
        } finished: { [logger, captureRecords] error in
            let completions = completions()
            if let error {
                // The rows stay claimed: the outbox worker captures them
                // again when their lease runs out, and records it then.
                logger.warning(
                    "Could not record captures; the outbox worker will",
                    metadata: ["outbox_rows": "\(completions.count)", "error": "\(error)"])
            }
            captureRecords.written(completions)
        }
    }

    /// Waits until every capture handed to
    /// ``recordCaptureInBackground(_:of:)`` before this call is recorded
    /// (or its write failed): a write queued after them, answered after
    /// theirs is durable.
    public func captureRecordsWritten() async throws {
        try await write(changes: []) { _, _ in }
    }
}
