import Dispatch
import PortalDomain

// The store's own threads. SQLite calls block (disk I/O, fsync, the busy
// timeout), so they never run on a caller's thread, which may be a NIO event
// loop or a cooperative-pool thread of Swift concurrency. Callers `await`;
// the work runs on a Dispatch queue and resumes them through a continuation.

/// Set when the caller's task is cancelled (for example because its deadline
/// passed), so that queued work is not started and a write is not committed.
final class CancellationFlag: Sendable {
    private let cancelled = Locked(false)

    /// Marks the work as no longer wanted.
    func cancel() { cancelled.withLock { $0 = true } }

    /// Whether the work is no longer wanted.
    var isCancelled: Bool { cancelled.withLock { $0 } }
}

/// The single writer: one connection and one serial queue, so writes are
/// serialised in this process without any thread ever blocking on another
/// writer; `BEGIN IMMEDIATE` serialises them against other processes.
final class WriterLane: Sendable {
    private let queue = DispatchQueue(label: "portal.store.writer", qos: .userInitiated)
    private let connection: Locked<SQLiteConnection?>

    init(connection: SQLiteConnection) {
        self.connection = Locked(connection)
    }

    /// Runs `work` on the writer queue with the writer connection.
    ///
    /// `work` receives a closure that says whether the caller gave up; the
    /// store's transactions check it before committing.
    func perform<T: Sendable>(
        _ work: @escaping @Sendable (SQLiteConnection, _ shouldAbort: @escaping () -> Bool) throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.async { [connection] in
                    guard !flag.isCancelled else {
                        continuation.resume(throwing: CancellationError())
                        return
                    }
                    // The queue is serial, so only this job uses the connection.
                    guard let db = connection.withLock({ $0 }) else {
                        continuation.resume(throwing: PortalError.storeClosed)
                        return
                    }
                    continuation.resume(
                        with: Result { try work(db, { flag.isCancelled }) }
                            .mapError { PortalError.surfacing($0) })
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Closes the connection after every job queued before this call.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [connection] in
                connection.withLock { db in
                    db?.close()
                    db = nil
                }
                continuation.resume()
            }
        }
    }
}

/// A small pool of read-only connections. WAL mode lets them read committed
/// snapshots while the writer writes. A call checks one out, runs on the
/// pool's concurrent queue, and returns it; when all are busy the call waits
/// in line (as a suspended task, not a blocked thread).
final class ReaderPool: Sendable {
    private typealias Waiter = @Sendable (SQLiteConnection?) -> Void

    private struct State {
        var idle: [SQLiteConnection]
        var waiters: [Waiter] = []
        var waitersHead = 0
        var isClosed = false
    }

    private enum CheckOut {
        case now(SQLiteConnection)
        case later
        case closed
    }

    private let queue = DispatchQueue(
        label: "portal.store.readers", qos: .userInitiated, attributes: .concurrent)
    private let state: Locked<State>

    init(connections: [SQLiteConnection]) {
        self.state = Locked(State(idle: connections))
    }

    /// Runs `work` with a reader connection on the pool's queue.
    func perform<T: Sendable>(_ work: @escaping @Sendable (SQLiteConnection) throws -> T)
        async throws -> T
    {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { continuation in
            let job: Waiter = { [queue] db in
                guard let db else {
                    continuation.resume(throwing: PortalError.storeClosed)
                    return
                }
                queue.async {
                    let result = Result { try work(db) }.mapError { PortalError.surfacing($0) }
                    self.checkIn(db)
                    continuation.resume(with: result)
                }
            }
            let start: CheckOut = state.withLock { state in
                if state.isClosed { return .closed }
                if let db = state.idle.popLast() { return .now(db) }
                state.waiters.append(job)
                return .later
            }
            switch start {
            case .now(let db): job(db)
            case .closed: job(nil)
            case .later: break
            }
        }
    }

    /// Returns a connection: to the next waiter if any, else to the idle list.
    private func checkIn(_ db: SQLiteConnection) {
        enum Next { case waiter(Waiter), closeIt, none }
        let next: Next = state.withLock { state in
            if state.isClosed { return .closeIt }
            if state.waitersHead < state.waiters.count {
                let waiter = state.waiters[state.waitersHead]
                state.waitersHead += 1
                if state.waitersHead > 64, state.waitersHead * 2 > state.waiters.count {
                    state.waiters.removeFirst(state.waitersHead)
                    state.waitersHead = 0
                }
                return .waiter(waiter)
            }
            state.idle.append(db)
            return .none
        }
        switch next {
        case .waiter(let waiter): waiter(db)
        case .closeIt: db.close()
        case .none: break
        }
    }

    /// Closes idle connections now and busy ones when they are returned;
    /// waiting and later calls fail with `STORE_CLOSED`.
    func close() {
        let (idle, waiters): ([SQLiteConnection], [Waiter]) = state.withLock { state in
            state.isClosed = true
            let idle = state.idle
            let waiters = Array(state.waiters[state.waitersHead...])
            state.idle = []
            state.waiters = []
            state.waitersHead = 0
            return (idle, waiters)
        }
        for db in idle { db.close() }
        for waiter in waiters { waiter(nil) }
    }
}

extension PortalError {
    /// The store was closed before the call could run.
    static let storeClosed = PortalError(.unavailable, .storeClosed, "The store is closed.")
}
