import Foundation
import Logging

/// An in-process payment gateway that approves everything and moves no
/// money — for demos and benchmarks only, never the default.
///
/// Every PaymentIntent it creates is authorised at once (`requiresCapture`),
/// as if the browser had paid; captures and cancellations succeed. Its
/// PaymentIntents live in memory: after a restart they are unknown
/// (``PaymentFailureKind/notFound``). It logs a loud warning when created, and
/// ``simulationWarning`` asks the checkout to log one on every checkout.
///
/// ```swift
/// let gateway = SimulatedPaymentGateway(logger: Logger(label: "portal.payments"))
/// let intent = try await gateway.createPaymentIntent(
///     amountCents: 1500, currency: "gbp", metadata: [:], idempotencyKey: "k")
/// intent.status   // .requiresCapture
/// ```
public final class SimulatedPaymentGateway: PaymentGateway, @unchecked Sendable {
    // @unchecked: `intents` and `byKey` are only touched while `lock` is held.
    private let lock = NSLock()
    private var intents: [String: PaymentIntent] = [:]
    private var byKey: [String: String] = [:]

    /// The text of the warning logged at start and on every checkout.
    public static let warning =
        "SIMULATED PAYMENTS: every payment is approved and no money moves. For demos and benchmarks only — never in production."

    /// A gateway with no PaymentIntents; logs ``warning`` at once.
    public init(logger: Logger) {
        logger.warning("\(Self.warning)")
    }

    public var simulationWarning: String? { Self.warning }

    public func createPaymentIntent(
        amountCents: Int, currency: String, metadata: [String: String], idempotencyKey: String
    ) async throws -> PaymentIntent {
        guard amountCents > 0 else { throw SimulatedPaymentError(kind: .refused, message: "amount must be positive") }
        return withLock {
            if let id = byKey[idempotencyKey], let existing = intents[id] { return existing }
            let id = "pi_sim_" + Self.randomHex(12)
            let intent = PaymentIntent(
                id: id, status: .requiresCapture, amount: amountCents, amountCapturable: amountCents,
                amountReceived: 0, currency: currency, clientSecret: id + "_secret_" + Self.randomHex(8),
                metadata: metadata, captureMethod: .manual)
            intents[id] = intent
            byKey[idempotencyKey] = id
            return intent
        }
    }

    public func retrievePaymentIntent(id: String) async throws -> PaymentIntent {
        try withLock { try known(id) }
    }

    public func capturePaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        try withLock {
            var intent = try known(id)
            switch intent.status {
            case .requiresCapture:
                intent.status = .succeeded
                intent.amountReceived = intent.amount
                intent.amountCapturable = 0
                intents[id] = intent
                return intent
            case .succeeded:
                return intent
            default:
                throw SimulatedPaymentError(kind: .refused, message: "cannot capture a \(intent.status) PaymentIntent")
            }
        }
    }

    public func cancelPaymentIntent(id: String, idempotencyKey: String) async throws -> PaymentIntent {
        try withLock {
            var intent = try known(id)
            switch intent.status {
            case .succeeded:
                throw SimulatedPaymentError(kind: .refused, message: "cannot cancel a captured PaymentIntent")
            case .canceled:
                return intent
            default:
                intent.status = .canceled
                intent.amountCapturable = 0
                intents[id] = intent
                return intent
            }
        }
    }

    private func known(_ id: String) throws -> PaymentIntent {
        guard let intent = intents[id] else {
            throw SimulatedPaymentError(kind: .notFound, message: "no simulated PaymentIntent \(id)")
        }
        return intent
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
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
