import Atomics
import PortalDomain

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a committed write may have changed, for the in-memory caches in front
/// of the store. A write names what it touches; the default is everything.
///
/// Availability is either everything `ListBlocks` shows (``availability``:
/// services, blocks, capacities, many holds at once) or the answers of some
/// (date, service) pairs (``availability(of:)``: one hold or booking), so
/// that a checkout on one day leaves the other days' and services' kept
/// answers alone.
package struct StoreChanges: OptionSet, Sendable {
    package let rawValue: UInt64
    package init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Services, blocks, capacities, holds, bookings: everything `ListBlocks` shows.
    package static let availability = StoreChanges(rawValue: 1 << 0)
    /// Sessions, portal users, the link of a user to its client: what
    /// authenticating a session answers.
    package static let sessions = StoreChanges(rawValue: 1 << 1)
    /// Everything a cache may show.
    package static let all: StoreChanges = [.availability, .sessions]

    /// The bits above ``sessions``, one per ``AvailabilityScope`` stripe.
    static let scopeShift: UInt64 = 2

    /// What `ListBlocks` shows for one date and service (and for the
    /// others that share its ``AvailabilityScope`` stripe).
    package static func availability(of scope: AvailabilityScope) -> StoreChanges {
        StoreChanges(rawValue: 1 << (scopeShift + UInt64(scope.stripe)))
    }

    /// The stripes named by ``availability(of:)``, as a bit set (bit `i`:
    /// stripe `i`).
    var availabilityStripes: UInt64 { rawValue >> Self.scopeShift }
}

/// Which kept `ListBlocks` answers a write to one (date, service) makes
/// stale: one of ``stripes`` stripes, by a hash of the date and the
/// service. Pairs that share a stripe make each other's answers stale too —
/// never less than needed, only sometimes more.
public struct AvailabilityScope: Hashable, Sendable {
    /// How many stripes there are (the bits left in ``StoreChanges``).
    static let stripes = 62

    /// The stripe, `0..<stripes`.
    @usableFromInline let stripe: Int

    /// The scope of `ListBlocks(date, service)`.
    public init(date: LocalDate, service: ServiceCode) {
        // FNV-1a over the day number and the code's bytes.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var day = UInt64(bitPattern: Int64(date.daysSince1970))
        for _ in 0..<8 {
            mix(UInt8(truncatingIfNeeded: day))
            day >>= 8
        }
        for byte in service.rawValue.utf8 { mix(byte) }
        stripe = Int(hash % UInt64(Self.stripes))
    }
}

/// A counter the store advances after every committed write that may change
/// what a cache shows, before the writer is answered.
///
/// A cached value records the generation read *before* the read that
/// produced it; it is current only while the counter still has that value.
/// A write that commits while the read runs advances the counter, so the
/// value is refused as stale even though it was produced afterwards. Reads
/// are lock-free: every cached answer on an event loop reads it.
public final class StoreGeneration: Sendable {
    @usableFromInline let value = ManagedAtomic<UInt64>(0)

    package init() {}

    /// The current generation (inlinable: cached answers on the event loops read it).
    @inlinable
    public var current: UInt64 { value.load(ordering: .acquiring) }

    func advance() { value.wrappingIncrement(ordering: .acquiringAndReleasing) }
}

/// The generations of what `ListBlocks` shows: one for everything and one
/// per ``AvailabilityScope`` stripe. The generation of a (date, service) is
/// their sum — it grows whenever either grows, so it serves as one
/// ``StoreGeneration`` would (a value read at it is current while it is
/// unchanged; a read that began at a higher one includes more writes).
public final class AvailabilityGenerations: Sendable {
    @usableFromInline let everything = StoreGeneration()
    @usableFromInline let stripes = (0..<AvailabilityScope.stripes).map { _ in StoreGeneration() }

    package init() {}

    /// The current generation of what `ListBlocks` shows for `scope`
    /// (inlinable: every kept answer served on an event loop asks).
    @inlinable
    public func current(_ scope: AvailabilityScope) -> UInt64 {
        everything.current &+ stripes[scope.stripe].current
    }

    /// Advances what `changes` names: everything, or the stripes of the
    /// scopes it names.
    func advance(_ changes: StoreChanges) {
        if changes.contains(.availability) {
            everything.advance()
            return
        }
        var named = changes.availabilityStripes
        while named != 0 {
            stripes[named.trailingZeroBitCount].advance()
            named &= named &- 1
        }
    }
}

/// A bounded map of values derived from the store, each tagged with the
/// ``StoreGeneration`` it was read at and the instant (Unix seconds) until
/// which time alone does not change it (the earliest hold expiry, a
/// session's end). Thread-safe; never blocks on I/O.
///
/// Values are published in one map under a lock and copied into a map of
/// each reading thread's own (a POSIX thread-specific value), so that the
/// event loops answer hits without a shared lock: with two event loops on
/// one mutex, the futex alone cost more than the lookup. Its methods are
/// inlinable so that each use is specialised for its key and value types
/// (unspecialised generic code looks metadata up at run time on every call).
package final class GenerationCache<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    // @unchecked: `shared` is behind its lock; each `ThreadShard` is only
    // ever reached through the thread-specific key of the thread that made it.
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

        @inlinable
        func isCurrent(generation: UInt64, now: Int64) -> Bool {
            self.generation == generation && now < validUntil
        }
    }

    /// One thread's copy of the entries it has read.
    @usableFromInline
    final class ThreadShard {
        @usableFromInline var entries: [Key: Entry] = [:]
        @inlinable init() {}
    }

    @usableFromInline let shared = Locked<[Key: Entry]>([:])
    @usableFromInline let limit: Int
    @usableFromInline let threadKey: pthread_key_t?

    /// A cache of at most `limit` entries (per thread and shared); when
    /// full, it starts over (the keys in use come back at once, the stray
    /// ones stay out).
    package init(limit: Int) {
        self.limit = limit
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { shard in
            if let shard { Unmanaged<AnyObject>.fromOpaque(shard).release() }
        }
        self.threadKey = created == 0 ? key : nil
    }

    deinit {
        // Shards of threads still running stay allocated (a few entries
        // each); only tests create and drop caches.
        if let threadKey { pthread_key_delete(threadKey) }
    }

    /// The value for `key` if it was read at `generation` and `now` (Unix
    /// seconds) is before its bound.
    @inlinable
    @_specialize(exported: true, where Key == String, Value == ClientID)
    package func value(for key: Key, generation: UInt64, now: Int64) -> Value? {
        value(for: key, now: now) { _ in generation }
    }

    /// As ``value(for:generation:now:)``, for values whose generation
    /// depends on the value (each kept `ListBlocks` answer has the
    /// generation of its own date and service): `generation` gives the
    /// current generation for a value found.
    @inlinable
    @_specialize(exported: true, where Key == AvailabilityKey, Value == KeptAvailability)
    @_specialize(exported: true, where Key == String, Value == ClientID)
    package func value(for key: Key, now: Int64, generation: (Value) -> UInt64) -> Value? {
        let shard = threadShard()
        if let shard, let entry = shard.entries[key],
            entry.isCurrent(generation: generation(entry.value), now: now)
        {
            return entry.value
        }
        guard let entry = shared.withLock({ $0[key] }),
            entry.isCurrent(generation: generation(entry.value), now: now)
        else { return nil }
        if let shard {
            if shard.entries[key] == nil, shard.entries.count >= limit {
                shard.entries.removeAll(keepingCapacity: true)
            }
            shard.entries[key] = entry
        }
        return entry.value
    }

    /// Keeps `value`, read at `generation` and unchanged by time alone until
    /// `validUntil` (Unix seconds). A value read at an older generation than
    /// the one kept is dropped.
    @inlinable
    @_specialize(exported: true, where Key == AvailabilityKey, Value == KeptAvailability)
    @_specialize(exported: true, where Key == String, Value == ClientID)
    package func insert(_ value: Value, for key: Key, generation: UInt64, validUntil: Int64) {
        let limit = self.limit
        shared.withLock { entries in
            if let kept = entries[key], kept.generation > generation { return }
            if entries[key] == nil, entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, generation: generation, validUntil: validUntil)
        }
    }

    /// This thread's shard, made on first use; `nil` if the system had no
    /// thread-specific key left (then every lookup takes the lock).
    @inlinable
    func threadShard() -> ThreadShard? {
        guard let threadKey else { return nil }
        if let existing = pthread_getspecific(threadKey) {
            return Unmanaged<ThreadShard>.fromOpaque(existing).takeUnretainedValue()
        }
        let shard = ThreadShard()
        guard pthread_setspecific(threadKey, Unmanaged.passRetained(shard).toOpaque()) == 0 else {
            return nil
        }
        return shard
    }

    /// The number of entries published (for tests).
    package var count: Int { shared.withLock { $0.count } }
}

/// The key of a kept `ListBlocks` answer: the encoded request (an answer
/// is only kept for a request that validated, under its canonical
/// encoding; a call is looked up by the bytes it sent).
package struct AvailabilityKey: Hashable, Sendable {
    /// The request's protobuf encoding.
    package let requestBytes: [UInt8]

    package init(requestBytes: [UInt8]) {
        self.requestBytes = requestBytes
    }

    /// The bytes in one go (an array would feed the hasher byte by byte).
    package func hash(into hasher: inout Hasher) {
        requestBytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A kept `ListBlocks` answer: its encoding, and the scope whose generation
/// (``AvailabilityGenerations/current(_:)``) it was read at.
package struct KeptAvailability: Sendable {
    /// The encoded `ListBlocksResponse`.
    package let encoded: [UInt8]
    /// The date and service it answers, as the generations know them.
    package let scope: AvailabilityScope

    package init(encoded: [UInt8], scope: AvailabilityScope) {
        self.encoded = encoded
        self.scope = scope
    }
}
