import PortalDomain

/// When to repeat the simulated gateway's warning: on the first checkout,
/// then at most once per ``interval``, saying how many checkouts ran since
/// the last one. (Once per checkout, a busy server's log grew by about
/// 1.5 MB a second of the same line.)
final class SimulationWarnings: Sendable {
    /// The least time between two warnings.
    static let interval: Duration = .seconds(60)

    private struct State {
        var lastWarning: ContinuousClock.Instant?
        var checkouts = 0
    }

    private let state = Locked(State())

    /// Counts one checkout at `now`. Returns the checkouts since the last
    /// warning, this one included, when a warning is due; otherwise `nil`.
    func checkout(at now: ContinuousClock.Instant) -> Int? {
        state.withLock { state in
            state.checkouts += 1
            if let last = state.lastWarning, now - last < Self.interval { return nil }
            defer {
                state.lastWarning = now
                state.checkouts = 0
            }
            return state.checkouts
        }
    }
}
