import Foundation

/// A point in time, as Unix seconds (the wire's instant format).
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public let unixSeconds: Int64

    /// The instant `unixSeconds` after the Unix epoch.
    public init(unixSeconds: Int64) { self.unixSeconds = unixSeconds }

    /// The instant `seconds` later (earlier when negative).
    public func adding(seconds: Int64) -> Instant {
        Instant(unixSeconds: unixSeconds + seconds)
    }

    /// The decimal Unix seconds.
    public var description: String { String(unixSeconds) }

    /// Earlier instants first.
    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.unixSeconds < rhs.unixSeconds
    }
}

/// Where Portal reads the current time from.
///
/// Named `WallClock` rather than `Clock` so that it does not shadow the
/// standard library's `Clock` protocol in modules that import both.
/// Production uses ``SystemWallClock``; tests use ``ManualWallClock`` and
/// move time by hand (hold expiry, "block already started").
public protocol WallClock: Sendable {
    /// The current instant.
    var now: Instant { get }
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// The current instant, truncated to whole seconds.
    ///
    /// Read from `CLOCK_REALTIME_COARSE` where there is one: whole seconds
    /// need no better than its few milliseconds, and it costs a memory read
    /// instead of a clock read — the fast paths ask for "now" on every call.
    public var now: Instant {
        #if os(Linux)
        var time = timespec()
        if clock_gettime(CLOCK_REALTIME_COARSE, &time) == 0 {
            return Instant(unixSeconds: Int64(time.tv_sec))
        }
        #endif
        return Instant(unixSeconds: Int64(Date().timeIntervalSince1970.rounded(.down)))
    }
}

/// A clock that stands still until a test moves it.
///
/// ```swift
/// let clock = ManualWallClock(now: Instant(unixSeconds: 1_759_900_000))
/// clock.advance(bySeconds: 601)   // every 10-minute hold has now expired
/// ```
public final class ManualWallClock: WallClock {
    private let current: Locked<Instant>

    /// A clock reading `now` until moved.
    public init(now: Instant) { self.current = Locked(now) }

    /// The instant the clock was last set or advanced to.
    public var now: Instant { current.withLock { $0 } }

    /// Moves the clock forward (or back, with a negative value).
    public func advance(bySeconds seconds: Int64) {
        current.withLock { $0 = $0.adding(seconds: seconds) }
    }

    /// Sets the clock to `instant`.
    public func set(to instant: Instant) {
        current.withLock { $0 = instant }
    }
}
