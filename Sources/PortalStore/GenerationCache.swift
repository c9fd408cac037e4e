import PortalDomain

/// What a committed write may have changed, for the in-memory caches in front
/// of the store. A write names what it touches; the default is everything.
package struct StoreChanges: OptionSet, Sendable {
    package let rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }

    /// Services, blocks, capacities, holds, bookings: what `ListBlocks` shows.
    package static let availability = StoreChanges(rawValue: 1 << 0)
    /// Sessions, portal users, the link of a user to its client: what
    /// authenticating a session answers.
    package static let sessions = StoreChanges(rawValue: 1 << 1)
    /// Everything a cache may show.
    package static let all: StoreChanges = [.availability, .sessions]
}

/// A counter the store advances after every committed write that may change
/// what a cache shows, before the writer is answered.
///
/// A cached value records the generation read *before* the read that
/// produced it; it is current only while the counter still has that value.
/// A write that commits while the read runs advances the counter, so the
/// value is refused as stale even though it was produced afterwards.
public final class StoreGeneration: Sendable {
    private let value = Locked<UInt64>(0)

    package init() {}

    /// The current generation.
    public var current: UInt64 { value.withLock { $0 } }

    func advance() { value.withLock { $0 &+= 1 } }
}

/// A bounded map of values derived from the store, each tagged with the
/// ``StoreGeneration`` it was read at and the instant (Unix seconds) until
/// which time alone does not change it (the earliest hold expiry, a
/// session's end). Thread-safe; never blocks on I/O.
///
/// Its methods are inlinable so that each use is specialised for its key and
/// value types: unspecialised generic code looks its metadata up at run time
/// on every call, which cost more than the lookup itself on the `ListBlocks`
/// fast path.
package final class GenerationCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    @usableFromInline
    struct Entry {
        @usableFromInline var value: Value
        @usableFromInline var generation: UInt64
        @usableFromInline var validUntil: Int64

        @inlinable
        init(value: Value, generation: UInt64, validUntil: Int64) {
            self.value = value
            self.generation = generation
            self.validUntil = validUntil
        }
    }

    @usableFromInline let entries = Locked<[Key: Entry]>([:])
    @usableFromInline let limit: Int

    /// A cache of at most `limit` entries; when full, it starts over (the
    /// keys in use come back at once, the stray ones stay out).
    package init(limit: Int) {
        self.limit = limit
    }

    /// The value for `key` if it was read at `generation` and `now` (Unix
    /// seconds) is before its bound.
    @inlinable
    package func value(for key: Key, generation: UInt64, now: Int64) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[key], entry.generation == generation, now < entry.validUntil
            else { return nil }
            return entry.value
        }
    }

    /// Keeps `value`, read at `generation` and unchanged by time alone until
    /// `validUntil` (Unix seconds). A value read at an older generation than
    /// the one kept is dropped.
    @inlinable
    package func insert(_ value: Value, for key: Key, generation: UInt64, validUntil: Int64) {
        let limit = self.limit
        entries.withLock { entries in
            if let kept = entries[key], kept.generation > generation { return }
            if entries[key] == nil, entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, generation: generation, validUntil: validUntil)
        }
    }

    /// Forgets everything.
    package func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    /// The number of entries kept (for tests).
    package var count: Int { entries.withLock { $0.count } }
}
