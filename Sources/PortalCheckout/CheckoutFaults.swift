#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Faults that tests inject into a real `portald` to prove that a crash at
/// the worst moment loses nothing. Never set in production: `portald` reads
/// them only from the environment variable ``environmentVariable`` and logs
/// loudly when one is set.
public struct CheckoutFaults: Sendable, Hashable {
    /// The environment variable: a comma-separated list of fault names.
    public static let environmentVariable = "PORTAL_FAULT_INJECTION"

    /// `crash-after-booking-commit`: the process kills itself with SIGKILL
    /// right after a booking's transaction commits and before its capture is
    /// attempted — the moment the outbox exists for.
    public var crashAfterBookingCommit: Bool

    /// `crash-after-capture`: the process kills itself with SIGKILL right
    /// after the provider captured a booking's payment and before the
    /// capture is recorded (docs/checkout.md, "Recording the capture").
    public var crashAfterCapture: Bool

    /// `crash-before-attaching-payment`: the process kills itself with
    /// SIGKILL when a `StartCheckout` that took its hold first has created
    /// the PaymentIntent and not yet attached it to the hold (start-up
    /// repair, docs/checkout.md).
    public var crashBeforeAttachingPayment: Bool

    /// `crash-before-writing-paid-hold`: the process kills itself with
    /// SIGKILL when a `StartCheckout` on an uncontested block has created
    /// the PaymentIntent and not yet written the hold with it — an open
    /// PaymentIntent that no row names (start-up repair, docs/checkout.md).
    public var crashBeforeWritingPaidHold: Bool

    /// No faults.
    public static let none = CheckoutFaults(crashAfterBookingCommit: false)

    public init(
        crashAfterBookingCommit: Bool, crashAfterCapture: Bool = false, crashBeforeAttachingPayment: Bool = false,
        crashBeforeWritingPaidHold: Bool = false
    ) {
        self.crashAfterBookingCommit = crashAfterBookingCommit
        self.crashAfterCapture = crashAfterCapture
        self.crashBeforeAttachingPayment = crashBeforeAttachingPayment
        self.crashBeforeWritingPaidHold = crashBeforeWritingPaidHold
    }

    /// The faults named in `environment[environmentVariable]`; unknown names
    /// are reported so that a typo does not silently test nothing.
    public static func from(environment: [String: String]) throws -> CheckoutFaults {
        var faults = CheckoutFaults.none
        for name in (environment[environmentVariable] ?? "").split(separator: ",") {
            switch name.trimmingCharacters(in: " ") {
            case "crash-after-booking-commit": faults.crashAfterBookingCommit = true
            case "crash-after-capture": faults.crashAfterCapture = true
            case "crash-before-attaching-payment": faults.crashBeforeAttachingPayment = true
            case "crash-before-writing-paid-hold": faults.crashBeforeWritingPaidHold = true
            case "": continue
            default: throw UnknownFault(name: String(name))
            }
        }
        return faults
    }

    /// Whether any fault is set.
    public var isEmpty: Bool { self == .none }

    /// Called right after a booking's commit.
    func bookingCommitted() {
        crash(if: crashAfterBookingCommit)
    }

    /// Called right after the provider captured a booking's payment, before
    /// the capture is recorded.
    func captureMade() {
        crash(if: crashAfterCapture)
    }

    /// Called when a hold-first `StartCheckout` has its PaymentIntent, before
    /// attaching it.
    func paymentCreatedForHold() {
        crash(if: crashBeforeAttachingPayment)
    }

    /// Called when an uncontested `StartCheckout` has its PaymentIntent,
    /// before writing the hold with it.
    func paymentCreatedBeforeHold() {
        crash(if: crashBeforeWritingPaidHold)
    }

    /// Kills the process at once (SIGKILL: no clean-up, as a crash) when
    /// `isSet`.
    private func crash(if isSet: Bool) {
        if isSet {
            kill(getpid(), SIGKILL)
        }
    }

    /// A fault name that does not exist.
    public struct UnknownFault: Error, CustomStringConvertible {
        /// The name given.
        public let name: String
        public var description: String {
            "\(CheckoutFaults.environmentVariable) names an unknown fault '\(name)' (known: crash-after-booking-commit, crash-after-capture, crash-before-attaching-payment, crash-before-writing-paid-hold)"
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}
