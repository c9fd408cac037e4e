import PortalDomain

/// The (block, service) a `StartCheckout` asks for.
struct StartKey: Hashable, Sendable {
    let block: BlockID
    let service: ServiceCode
}

/// How many `StartCheckout` calls of this process are under way per
/// (block, service). `StartCheckout` takes the one-write path (PaymentIntent
/// first, then the hold with it) only while its slot is not contested —
/// comfortably more free slots than starts in flight
/// (``Checkout/uncontestedMargin``) — so that when many clients race for
/// the last slots, the losers are refused by the hold's transaction before
/// any PaymentIntent is created for them.
///
/// A count, not a reservation: correctness (never more holds than room)
/// comes from the hold's transaction either way; this only decides which
/// order wastes nothing.
final class StartsInFlight: Sendable {
    private let counts = Locked<[StartKey: Int]>([:])

    /// Counts a start that begins.
    func enter(_ key: StartKey) {
        counts.withLock { $0[key, default: 0] += 1 }
    }

    /// Counts a start that ended (however it ended).
    func leave(_ key: StartKey) {
        counts.withLock { counts in
            let left = (counts[key] ?? 1) - 1
            counts[key] = left > 0 ? left : nil
        }
    }

    /// Starts under way for `key`, the caller's own included.
    func count(_ key: StartKey) -> Int {
        counts.withLock { $0[key] ?? 0 }
    }
}
