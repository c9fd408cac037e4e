import NIOConcurrencyHelpers

/// Whether the server has started draining, shared by every connection and
/// readable from any thread.
package final class DrainState: Sendable {
    private let draining = NIOLockedValueBox(false)

    package init() {}

    /// True once draining started; it never goes back.
    package var isDraining: Bool { draining.withLockedValue { $0 } }

    /// Marks the server as draining. Returns false when it already was.
    package func begin() -> Bool {
        draining.withLockedValue { value in
            defer { value = true }
            return !value
        }
    }
}
