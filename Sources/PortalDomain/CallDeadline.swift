import Dispatch

/// The deadline of the call the current task works for, if the caller set
/// one (docs/protocol.md §6). The RPC layer binds it around each handler;
/// the store honours it — a read or write whose deadline has passed is not
/// started, and a write that has not finished running by then is rolled
/// back — and so does the checkout (no PaymentIntent is created past it).
///
/// ```swift
/// try await CallDeadline.$uptimeNanoseconds.withValue(deadline) {
///     try await store.createHold(for: client, block: block, service: walk)
/// }
/// ```
public enum CallDeadline {
    /// The deadline in monotonic nanoseconds, on the clock of
    /// `DispatchTime.now().uptimeNanoseconds` (the one NIO's `NIODeadline`
    /// uses); `nil`: no deadline.
    @TaskLocal public static var uptimeNanoseconds: UInt64?

    /// Whether `deadline` (as ``uptimeNanoseconds``) has passed.
    @inlinable
    public static func hasPassed(_ deadline: UInt64?) -> Bool {
        guard let deadline else { return false }
        return DispatchTime.now().uptimeNanoseconds >= deadline
    }

    /// Whether the current task's deadline has passed.
    public static var isPast: Bool { hasPassed(uptimeNanoseconds) }

    /// Throws `CancellationError` when the current task's deadline has
    /// passed: the work it guards must not start.
    public static func check() throws {
        if isPast { throw CancellationError() }
    }
}
