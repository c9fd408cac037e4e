import PortalDomain

/// The paid holds this process's `StartCheckout` took lately, by token, so
/// that the `FinalizeCheckout` that usually follows can go straight to the
/// payment provider instead of first reading the hold back from the store.
///
/// Only facts that never change once a hold has its PaymentIntent are used
/// from here — whose hold it is, its PaymentIntent, amount and currency, the
/// token its PaymentIntent's metadata names. Whether the hold is still
/// active is never taken from here: the booking's transaction reads and
/// checks the hold as it always does. A finalize takes its entry out
/// (a retry reads the store), and when the fast path cannot settle — the
/// provider fails or the payment does not verify — `Checkout.finalize`
/// falls back to the full path, so every answer is the one the full path
/// gives (docs/checkout.md, "FinalizeCheckout without a read").
///
/// Bounded: the oldest of ``capacity`` entries makes way for a new one
/// (holds started and never finalized would otherwise stay).
final class StartedHolds: Sendable {
    /// Entries kept at most (≈ 300 bytes each).
    static let capacity = 4096

    private struct State {
        var holds: [HoldToken: CapacityHold] = [:]
        /// Tokens in the order they came, as a ring; a slot may name a token
        /// already taken out.
        var order = [HoldToken?](repeating: nil, count: StartedHolds.capacity)
        var next = 0
    }

    private let state = Locked(State())

    /// Remembers a hold that `StartCheckout` just took with its PaymentIntent.
    func remember(_ hold: CapacityHold) {
        guard hold.paymentIntentID != nil else { return }
        state.withLock { state in
            if let oldest = state.order[state.next] { state.holds.removeValue(forKey: oldest) }
            state.order[state.next] = hold.token
            state.next = (state.next + 1) % Self.capacity
            state.holds[hold.token] = hold
        }
    }

    /// Takes out the hold `token` if this process started it for `client`
    /// with `paymentIntentID`; `nil` otherwise (unknown, forgotten, taken
    /// already, or not a match — the full path then decides).
    func take(_ token: HoldToken, client: ClientID, paymentIntentID: String) -> CapacityHold? {
        state.withLock { state in
            guard let hold = state.holds.removeValue(forKey: token) else { return nil }
            return hold.client == client && hold.paymentIntentID == paymentIntentID ? hold : nil
        }
    }

    /// Entries held now (for tests).
    var count: Int { state.withLock { $0.holds.count } }
}
