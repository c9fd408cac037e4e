import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// An in-process payment gateway that approves everything and moves no
/// money — for demos and benchmarks only, never the default.
///
/// Every PaymentIntent it creates is authorised at once (`requiresCapture`),
/// as if the browser had paid; captures and cancellations succeed. Its
/// PaymentIntents live in memory: after a restart they are unknown
/// (``PaymentFailureKind/notFound``). It logs a loud warning when created, and
/// ``simulationWarning`` asks the checkout to log one on its first checkout
/// and then at most once a minute.
///
/// Its memory is bounded for long benchmarks: a PaymentIntent that is still
/// open (`requiresCapture`) is kept until it is captured or cancelled — the
/// checkout does one or the other to every PaymentIntent it creates, the
/// sweeper included — but of the *finished* ones (`succeeded`, `canceled`)
/// only the last ``finishedIntentLimit`` to finish are kept. An older
/// finished PaymentIntent is forgotten with its creation's idempotency key:
/// every call naming it then fails with ``PaymentFailureKind/notFound``, as
/// after a restart, and a creation retried with its key creates a new
/// PaymentIntent. The checkout reads or captures a finished PaymentIntent
/// only when it repeats a capture or cancel that already succeeded here —
/// which it does only if recording the outcome failed; see
/// ``defaultFinishedIntentLimit``.
///
/// ```swift
/// let gateway = SimulatedPaymentGateway(logger: Logger(label: "portal.payments"))
/// let intent = try await gateway.createPaymentIntent(
///     amountCents: 1500, currency: "gbp", metadata: [:], idempotencyKey: "k")
/// intent.status   // .requiresCapture
/// ```
public final class SimulatedPaymentGateway: PaymentGateway, @unchecked Sendable {
    /// How many finished PaymentIntents are kept by default: 2,000 — hours
    /// of a demo, a fraction of a second of a checkout benchmark at full
    /// speed, and ≈ 1.8 MiB (≈ 900 bytes each with their metadata and keys).
    /// Nothing of the checkout's normal path reads a finished one: a
    /// capture or cancel is repeated only when its outcome could not be
    /// recorded (after the outbox lease, 180 s by default), and this
    /// gateway's calls always succeed. 10,000 until session 16 kept ≈ 8 MiB
    /// more under checkout load, which put the benchmark's server over the
    /// 64 MiB it must stay under (docs/performance.md).
    public static let defaultFinishedIntentLimit = 2_000

    /// How many finished (captured or cancelled) PaymentIntents are kept;
    /// the oldest to finish is forgotten first.
    public let finishedIntentLimit: Int

    // @unchecked: every stored property below is only touched while `lock` is held.
    private let lock = NSLock()
    /// Every PaymentIntent known, by the number in its id.
    private var intents: [UInt64: StoredIntent] = [:]
    /// The PaymentIntent each creation's idempotency key created.
    private var idsByCreationKey: [String: UInt64] = [:]
    /// The finished PaymentIntents in the order they finished: a ring of at
    /// most `finishedIntentLimit` ids whose oldest is at `oldestFinished`
    /// once it is full.
    private var finishedOrder: [UInt64] = []
    private var oldestFinished = 0
    private var lastNumber: UInt64 = 0

    /// The text of the warning logged at start and, at most once a minute, by the checkout.
    public static let warning =
        "SIMULATED PAYMENTS: every payment is approved and no money moves. For demos and benchmarks only — never in production."

    /// A gateway with no PaymentIntents; logs ``warning`` at once.
    ///
    /// - Parameter finishedIntentLimit: how many finished PaymentIntents to
    ///   keep (at least 1); default ``defaultFinishedIntentLimit``.
    public init(logger: Logger, finishedIntentLimit: Int = defaultFinishedIntentLimit) {
        precondition(finishedIntentLimit >= 1, "finishedIntentLimit must be at least 1")
        self.finishedIntentLimit = finishedIntentLimit
        logger.warning("\(Self.warning)")
    }

    public var simulationWarning: String? { Self.warning }

    /// How many PaymentIntents are kept now, open and finished (for tests
    /// and diagnostics).
    public var storedIntentCount: Int { withLock { intents.count } }

    public func createPaymentIntent(
        amountCents: Int, currency: String, metadata: [String: String], idempotencyKey: String
    ) async throws -> PaymentIntent {
        guard amountCents > 0 else { throw SimulatedPaymentError(kind: .refused, message: "amount must be positive") }
        return withLock {
            if let number = idsByCreationKey[idempotencyKey], let existing = intents[number] {
                return existing.paymentIntent(number: number)
            }
            var generator = SystemRandomNumberGenerator()
            let number = nextNumber()
            let stored = StoredIntent(
                stage: .authorised, amount: amountCents, currency: currency, secret: generator.next(),
                metadata: metadata, creationKey: idempotencyKey)
            intents[number] = stored
            idsByCreationKey[idempotencyKey] = number
            return stored.paymentIntent(number: number)
        }
    }

    public func retrievePaymentIntent(id: String) async throws -> PaymentIntent {
        try withLock {
            let number = try known(id)
            return intents[number]!.paymentIntent(number: number)
        }
    }

    public func capturePaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        try finish(id, as: .captured, refusing: "cannot capture a canceled PaymentIntent")
    }

    public func cancelPaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        try finish(id, as: .canceled, refusing: "cannot cancel a captured PaymentIntent")
    }

    /// Moves an authorised PaymentIntent to `stage` (captured or canceled);
    /// one already there is answered as it is (idempotent), one that
    /// finished the other way is refused with `refusal`.
    private func finish(_ id: String, as stage: StoredIntent.Stage, refusing refusal: String) throws
        -> PaymentIntent
    {
        try withLock {
            let number = try known(id)
            var stored = intents[number]!
            if stored.stage == .authorised {
                stored.stage = stage
                intents[number] = stored
                didFinish(number)
            } else if stored.stage != stage {
                throw SimulatedPaymentError(kind: .refused, message: refusal)
            }
            return stored.paymentIntent(number: number)
        }
    }

    /// The ones it keeps, created at or after `since` (their ids carry the
    /// creation millisecond); it forgets everything at a restart.
    public func paymentIntents(createdSince since: Int64, limit: Int) async throws -> [PaymentIntent] {
        withLock {
            let first = (UInt64(max(0, since)) * 1000) << 20
            return intents.filter { $0.key >= first }.sorted { $0.key > $1.key }.prefix(limit)
                .map { $0.value.paymentIntent(number: $0.key) }
        }
    }

    /// The number of the next PaymentIntent: the creation millisecond in
    /// the high 44 bits and a count within it in the low 20, never less than
    /// the last one plus one. Ids therefore sort by creation time, so that
    /// the store's indexes by PaymentIntent grow at one end rather than at
    /// random places (Stripe does not document the order of its own ids;
    /// docs/performance.md measures both) — and stay unique across restarts of the
    /// process (whose database keeps the ids of earlier runs), as long as
    /// fewer than a million are made per millisecond and the clock does not
    /// step back. Called with `lock` held.
    private func nextNumber() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let millisecond = UInt64(now.tv_sec) &* 1000 &+ UInt64(now.tv_nsec / 1_000_000)
        lastNumber = max(lastNumber &+ 1, millisecond << 20)
        return lastNumber
    }

    private func known(_ id: String) throws -> UInt64 {
        guard let number = StoredIntent.number(ofID: id), intents[number] != nil else {
            throw SimulatedPaymentError(kind: .notFound, message: "no simulated PaymentIntent \(id)")
        }
        return number
    }

    /// Records that `number` has just finished (each PaymentIntent finishes
    /// once), forgetting the oldest finished one when the limit is reached.
    private func didFinish(_ number: UInt64) {
        if finishedOrder.count < finishedIntentLimit {
            finishedOrder.append(number)
            return
        }
        let forgotten = finishedOrder[oldestFinished]
        if let stored = intents.removeValue(forKey: forgotten) {
            idsByCreationKey.removeValue(forKey: stored.creationKey)
        }
        finishedOrder[oldestFinished] = number
        oldestFinished = (oldestFinished + 1) % finishedIntentLimit
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// What the simulated gateway keeps of one PaymentIntent: the fields it
/// cannot derive (64 bytes inline, plus the caller's metadata dictionary and
/// idempotency key, shared rather than copied). The id and the client secret
/// are rebuilt from its number and a random one on every answer.
private struct StoredIntent {
    enum Stage: UInt8 { case authorised, captured, canceled }

    var stage: Stage
    let amount: Int
    let currency: String
    /// The random part of the client secret.
    let secret: UInt64
    let metadata: [String: String]
    /// The idempotency key it was created with (forgotten with it).
    let creationKey: String

    private static let idPrefix = "pi_sim_"

    /// The PaymentIntent as the gateway reports it.
    func paymentIntent(number: UInt64) -> PaymentIntent {
        let id = Self.idPrefix + Self.hex(number)
        let status: PaymentIntent.Status
        switch stage {
        case .authorised: status = .requiresCapture
        case .captured: status = .succeeded
        case .canceled: status = .canceled
        }
        return PaymentIntent(
            id: id, status: status, amount: amount,
            amountCapturable: stage == .authorised ? amount : 0,
            amountReceived: stage == .captured ? amount : 0,
            currency: currency, clientSecret: id + "_secret_" + Self.hex(secret),
            metadata: metadata, captureMethod: .manual)
    }

    /// The number in an id this gateway issues (`pi_sim_` and 16 lower-case
    /// hex digits); `nil` for any other string.
    static func number(ofID id: String) -> UInt64? {
        let utf8 = id.utf8
        guard utf8.count == idPrefix.utf8.count + 16, id.hasPrefix(idPrefix) else { return nil }
        var number: UInt64 = 0
        for byte in utf8.dropFirst(idPrefix.utf8.count) {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            default: return nil
            }
            number = number << 4 | UInt64(digit)
        }
        return number
    }

    /// `value` as 16 lower-case hex digits.
    private static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<16 {
                let nibble = Int((value >> UInt64(60 - 4 * index)) & 0xF)
                buffer[index] = digits.utf8Start[nibble]
            }
            return 16
        }
    }
}

/// A refusal of the ``SimulatedPaymentGateway``.
public struct SimulatedPaymentError: PaymentGatewayFailure, CustomStringConvertible {
    /// What kind of failure it is.
    public let kind: PaymentFailureKind
    /// What was refused.
    public let message: String

    public var paymentFailureKind: PaymentFailureKind { kind }
    public var description: String { "simulated payment refused (\(kind)): \(message)" }
}
