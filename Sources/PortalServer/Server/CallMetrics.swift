import NIOConcurrencyHelpers
import NIOCore

/// Per-method counters and latency histograms since the server started
/// (SPEC §5): answered calls by status code, and how long each took from
/// the moment the server read its frame to the moment it queued the answer.
///
/// Every connection records into the shard of its event loop, touched only
/// on that loop: recording takes no lock and no atomic, which keeps it
/// negligible next to a health check (≈ 1 µs of CPU). ``snapshot()`` asks
/// each loop for a copy of its shard and adds them up.
///
/// Latencies go into fixed buckets: 1, 2, 3, 4 µs, then four per doubling
/// up to about 134 s (each bound at most 25 % above the one before; one
/// more bucket for anything longer), so a percentile read from them is the
/// upper bound of its bucket.
public final class CallMetrics: Sendable {
    /// The methods counted, in the order of their slots.
    public let methods: [String]
    private let slots: [String: Int]
    private let shards = NIOLockedValueBox<[NIOLoopBound<MetricsShard>]>([])
    private let startedAt = NIODeadline.now()

    /// Upper bounds of the latency buckets, in microseconds; the last bucket
    /// (anything above the last bound) has none.
    public static let bucketBounds: [UInt64] = {
        var bounds: [UInt64] = [1, 2, 3, 4]
        var octave: UInt64 = 1
        while bounds.last! < 100_000_000 {
            for step: UInt64 in 5...8 { bounds.append(step * octave) }
            octave *= 2
        }
        return bounds
    }()

    /// Counters for `methods` (the router's ``Router/knownMethods``).
    public init(methods: some Sequence<String>) {
        self.methods = Set(methods).sorted()
        self.slots = Dictionary(uniqueKeysWithValues: self.methods.enumerated().map { ($1, $0) })
    }

    /// The slot of `method`, or `nil` when it is not counted.
    package func slot(of method: String) -> Int? { slots[method] }

    /// The shard of `eventLoop`'s connections (made on first use). Call on
    /// `eventLoop`; use the shard only there.
    package func shard(on eventLoop: any EventLoop) -> MetricsShard {
        shards.withLockedValue { shards in
            if let existing = shards.first(where: { $0.eventLoop === eventLoop }) {
                return existing.value
            }
            let shard = MetricsShard(methods: methods.count)
            shards.append(NIOLoopBound(shard, eventLoop: eventLoop))
            return shard
        }
    }

    /// What has been counted so far, for the methods called at least once.
    public func snapshot() async throws -> Snapshot {
        let shards = self.shards.withLockedValue { $0 }
        var total = MetricsShard.Counts(methods: methods.count)
        for shard in shards {
            let counts = try await shard.eventLoop.submit { shard.value.counts }.get()
            total.add(counts)
        }
        var entries: [Snapshot.Method] = []
        for (slot, name) in methods.enumerated() {
            let statuses = total.statuses(slot: slot)
            let calls = statuses.reduce(0) { $0 + $1.count }
            guard calls > 0 else { continue }
            entries.append(
                Snapshot.Method(
                    method: name, calls: calls, statuses: statuses,
                    latency: total.histogram(slot: slot), maxMicroseconds: total.maxMicroseconds[slot]))
        }
        let uptime = NIODeadline.now() - startedAt
        return Snapshot(methods: entries, uptimeSeconds: UInt64(max(0, uptime.nanoseconds / 1_000_000_000)))
    }

    /// The counters of every method called at least once.
    public struct Snapshot: Sendable {
        /// One method's counters.
        public struct Method: Sendable {
            /// The method's fully-qualified name.
            public let method: String
            /// Answered calls, any status.
            public let calls: UInt64
            /// Answered calls by status code, codes with a count only, in code order.
            public let statuses: [(code: Int32, count: UInt64)]
            /// The latency histogram: (upper bound in µs, calls), buckets
            /// with a count only, in order; `UInt64.max` is the bound of the
            /// last, open bucket.
            public let latency: [(upperBoundMicroseconds: UInt64, count: UInt64)]
            /// The longest call, in microseconds.
            public let maxMicroseconds: UInt64

            /// The upper bound of the bucket in which the `percentile` (0–100)
            /// of the calls falls, in microseconds (the largest latency seen
            /// when that is lower).
            public func percentileMicroseconds(_ percentile: Double) -> UInt64 {
                let rank = UInt64((Double(calls) * percentile / 100).rounded(.up))
                var seen: UInt64 = 0
                for bucket in latency {
                    seen += bucket.count
                    if seen >= max(1, rank) { return min(bucket.upperBoundMicroseconds, maxMicroseconds) }
                }
                return maxMicroseconds
            }
        }

        /// The methods called at least once, by name.
        public let methods: [Method]
        /// Seconds since the counters started.
        public let uptimeSeconds: UInt64
    }
}

/// The counters of one event loop's connections (confined to that loop).
package final class MetricsShard {
    /// Status codes 0–16 are counted apart; anything else as 2 (UNKNOWN).
    static let codes = 17

    struct Counts: Sendable {
        var statuses: [UInt64]
        var buckets: [UInt64]
        var maxMicroseconds: [UInt64]

        init(methods: Int) {
            statuses = Array(repeating: 0, count: methods * MetricsShard.codes)
            buckets = Array(repeating: 0, count: methods * (CallMetrics.bucketBounds.count + 1))
            maxMicroseconds = Array(repeating: 0, count: methods)
        }

        mutating func add(_ other: Counts) {
            for index in statuses.indices { statuses[index] += other.statuses[index] }
            for index in buckets.indices { buckets[index] += other.buckets[index] }
            for index in maxMicroseconds.indices {
                maxMicroseconds[index] = max(maxMicroseconds[index], other.maxMicroseconds[index])
            }
        }

        func statuses(slot: Int) -> [(code: Int32, count: UInt64)] {
            (0..<MetricsShard.codes).compactMap { code in
                let count = statuses[slot * MetricsShard.codes + code]
                return count > 0 ? (Int32(code), count) : nil
            }
        }

        func histogram(slot: Int) -> [(upperBoundMicroseconds: UInt64, count: UInt64)] {
            let width = CallMetrics.bucketBounds.count + 1
            return (0..<width).compactMap { bucket in
                let count = buckets[slot * width + bucket]
                guard count > 0 else { return nil }
                let bound = bucket < CallMetrics.bucketBounds.count ? CallMetrics.bucketBounds[bucket] : UInt64.max
                return (bound, count)
            }
        }
    }

    private(set) var counts: Counts

    init(methods: Int) { counts = Counts(methods: methods) }

    /// Counts one answered call of the method in `slot`.
    package func record(slot: Int, code: Int32, nanoseconds: Int64) {
        let code = code >= 0 && code < Self.codes ? Int(code) : 2
        counts.statuses[slot * Self.codes + code] += 1
        let microseconds = UInt64(max(0, nanoseconds + 999) / 1000)
        let bounds = CallMetrics.bucketBounds
        // The first bound at or above the latency (binary search).
        var low = 0
        var high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if bounds[middle] < microseconds { low = middle + 1 } else { high = middle }
        }
        counts.buckets[slot * (bounds.count + 1) + low] += 1
        if microseconds > counts.maxMicroseconds[slot] { counts.maxMicroseconds[slot] = microseconds }
    }
}
