import NIOConcurrencyHelpers
import NIOCore

/// The address a server is bound to, awaited by whoever needs it before the
/// server has bound (tests asking for the port the system picked).
package final class BoundAddress: Sendable {
    private enum State {
        case waiting([CheckedContinuation<SocketAddress, any Error>])
        case bound(SocketAddress)
        case failed(any Error)
    }

    private let state = NIOLockedValueBox(State.waiting([]))

    package init() {}

    /// The address, once the server is bound; throws if binding failed.
    package func get() async throws -> SocketAddress {
        try await withCheckedThrowingContinuation { continuation in
            let result: Result<SocketAddress, any Error>? = state.withLockedValue { state in
                switch state {
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                case .bound(let address): return .success(address)
                case .failed(let error): return .failure(error)
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    /// Records the outcome of binding and wakes every waiter.
    package func resolve(_ result: Result<SocketAddress, any Error>) {
        let waiters = state.withLockedValue { state in
            guard case .waiting(let waiters) = state else { return [CheckedContinuation<SocketAddress, any Error>]() }
            switch result {
            case .success(let address): state = .bound(address)
            case .failure(let error): state = .failed(error)
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }
}
