import Foundation

/// A value guarded by a lock, for the few pieces of shared mutable state
/// (test clock, store bookkeeping) that must be reachable from any thread.
package final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched while `lock` is held.
    @usableFromInline let lock = NSLock()
    @usableFromInline var value: Value

    /// Wraps `value`.
    package init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access to the value. Inlinable, so that
    /// generic callers are specialised (see `GenerationCache`).
    @inlinable
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
