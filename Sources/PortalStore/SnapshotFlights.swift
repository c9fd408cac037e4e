import PortalDomain

/// The availability reads under way, one per (date, service), so that the
/// calls that miss the `ListBlocks` cache together share one read instead
/// of each running its own ("single flight").
///
/// Under a mix of reads and checkouts every committed hold or booking makes
/// the kept answers stale, and the `ListBlocks` calls in flight all miss at
/// once: each used to read the same day again on a reader (docs/performance.md,
/// "Session 13").
///
/// **Read-your-writes holds.** A call may take a read's answer only if that
/// read began at the call's generation or later: the generation is read
/// before the snapshot, and a write advances it before any of its callers
/// is answered — so a read that began at or after the generation the call
/// saw includes every write answered before the call arrived. A call that
/// arrives after a write committed (a newer generation) starts a read of
/// its own, which later calls then join. A call also takes the answer only
/// while no hold it counted has expired at the call's own clock; otherwise
/// it reads itself.
final class SnapshotFlights: Sendable {
    struct Key: Hashable, Sendable {
        let date: LocalDate
        let service: ServiceCode
    }

    /// One read and the calls waiting for it.
    private final class Flight: Sendable {
        struct State {
            var waiting: [(waiter: Int, continuation: CheckedContinuation<AvailabilitySnapshot, any Error>)] = []
            var nextWaiter = 0
            /// Set once the read has answered.
            var result: Result<AvailabilitySnapshot, any Error>?
        }

        /// The generation the read began at.
        let generation: UInt64
        let state = Locked(State())

        init(generation: UInt64) { self.generation = generation }

        /// The read's answer, once it has one; `CancellationError` as soon
        /// as the waiting call is cancelled (its deadline passed) — it
        /// does not wait for the read to end.
        func answer() async throws -> AvailabilitySnapshot {
            let waiter = state.withLock { state in
                defer { state.nextWaiter += 1 }
                return state.nextWaiter
            }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    // Under the lock, so that a cancellation either is seen
                    // here or finds the continuation waiting.
                    let now: Result<AvailabilitySnapshot, any Error>? = state.withLock { state in
                        if let result = state.result { return result }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        state.waiting.append((waiter, continuation))
                        return nil
                    }
                    if let now { continuation.resume(with: now) }
                }
            } onCancel: {
                let continuation = state.withLock { state in
                    state.waiting.firstIndex { $0.waiter == waiter }.map { state.waiting.remove(at: $0).continuation }
                }
                continuation?.resume(throwing: CancellationError())
            }
        }

        /// Answers every call waiting, and any that asks later.
        func finish(_ result: Result<AvailabilitySnapshot, any Error>) {
            let waiting = state.withLock { state in
                state.result = result
                defer { state.waiting = [] }
                return state.waiting
            }
            for (_, continuation) in waiting { continuation.resume(with: result) }
        }
    }

    private let flights = Locked<[Key: Flight]>([:])

    /// The answer of a read for `key` that began at `generation` or later:
    /// one under way, or `read()` run now (and shared with the calls that
    /// arrive while it runs). `isUsable` says whether a shared answer still
    /// holds for this call (its counted holds not expired); if not, this
    /// call reads on its own.
    func snapshot(
        for key: Key, generation: UInt64,
        isUsable: (AvailabilitySnapshot) -> Bool,
        read: () async throws -> AvailabilitySnapshot
    ) async throws -> AvailabilitySnapshot {
        enum Role {
            case join(Flight)
            case lead(Flight)
        }
        let role: Role = flights.withLock { flights in
            if let flight = flights[key], flight.generation >= generation { return .join(flight) }
            let flight = Flight(generation: generation)
            flights[key] = flight
            return .lead(flight)
        }
        switch role {
        case .join(let flight):
            do {
                let shared = try await flight.answer()
                if isUsable(shared) { return shared }
            } catch is CancellationError {
                // This call gave up (its deadline passed) — then it reads
                // nothing more — or the call that read did: not this one's
                // answer, so it reads for itself.
                try Task.checkCancellation()
            }
            return try await read()
        case .lead(let flight):
            let result: Result<AvailabilitySnapshot, any Error>
            do {
                result = .success(try await read())
            } catch {
                result = .failure(error)
            }
            flights.withLock { flights in
                if flights[key] === flight { flights[key] = nil }
            }
            flight.finish(result)
            return try result.get()
        }
    }

    /// The reads under way (for tests).
    var count: Int { flights.withLock { $0.count } }
}
