import NIOCore
import PortalMessages
import PortalWire
import XCTest

@testable import PortalServer

/// Per-method counters and latency histograms (SPEC §5), counted by a real
/// server over real TCP.
final class CallMetricsEndToEndTests: XCTestCase {
    func testAnsweredCallsAreCountedPerMethodByStatusWithTheirLatency() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            for id in 1...3 { try await client.assertOK(.health(id: UInt64(id))) }
            let malformed = try await client.call(
                RequestEnvelope(id: 4, method: HealthMethods.check.fullName, payload: [0xFF, 0xFF, 0xFF]))
            XCTAssertEqual(malformed.code, .invalidArgument)
            for id in 5...6 { try await client.assertOK(.test(TestMethods.slow, id: UInt64(id), milliseconds: 20)) }
            let failed = try await client.call(.test(TestMethods.fail, id: 7))
            XCTAssertEqual(failed.code, .internalError)
            let late = try await client.call(.test(TestMethods.slow, id: 8, milliseconds: 1000, timeoutMs: 30))
            XCTAssertEqual(late.code, .deadlineExceeded)
            // Neither an unknown method nor one without a handler is counted.
            _ = try await client.call(RequestEnvelope(id: 9, method: "portal.v1.Nope/Nothing"))
            _ = try await client.call(RequestEnvelope(id: 10, method: "portal.v1.Admin/GetDay"))
            await client.close()

            let snapshot = try await server.server.metrics.snapshot()
            let byName = Dictionary(uniqueKeysWithValues: snapshot.methods.map { ($0.method, $0) })
            XCTAssertEqual(
                Set(byName.keys),
                [HealthMethods.check.fullName, TestMethods.slow.fullName, TestMethods.fail.fullName])

            let health = try XCTUnwrap(byName[HealthMethods.check.fullName])
            XCTAssertEqual(health.calls, 4)
            XCTAssertEqual(health.statuses.map(\.code), [0, 3])
            XCTAssertEqual(health.statuses.map(\.count), [3, 1])
            XCTAssertEqual(health.latency.reduce(0) { $0 + $1.count }, 4)

            let slow = try XCTUnwrap(byName[TestMethods.slow.fullName])
            XCTAssertEqual(slow.calls, 3)
            XCTAssertEqual(slow.statuses.map(\.code), [0, 4])
            XCTAssertEqual(slow.statuses.map(\.count), [2, 1])
            XCTAssertEqual(slow.latency.reduce(0) { $0 + $1.count }, 3)
            // Two calls slept 20 ms and one was cut at 30 ms: every latency is
            // at least 20 ms, and the histogram's bounds say so.
            XCTAssertGreaterThanOrEqual(slow.percentileMicroseconds(50), 20_000)
            XCTAssertGreaterThanOrEqual(slow.latency.first!.upperBoundMicroseconds, 20_000)
            XCTAssertGreaterThanOrEqual(slow.maxMicroseconds, 30_000)
            XCTAssertLessThanOrEqual(slow.percentileMicroseconds(99), slow.maxMicroseconds)

            let fail = try XCTUnwrap(byName[TestMethods.fail.fullName])
            XCTAssertEqual(fail.statuses.map(\.code), [13])
            XCTAssertEqual(fail.calls, 1)
        }
    }

    func testBucketBoundsGrowByAtMostAQuarterAndReachPastTwoMinutes() {
        let bounds = CallMetrics.bucketBounds
        XCTAssertEqual(Array(bounds.prefix(12)), [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16])
        XCTAssertEqual(bounds.last, 134_217_728)
        for (lower, upper) in zip(bounds.dropFirst(3), bounds.dropFirst(4)) {
            XCTAssertLessThanOrEqual(Double(upper) / Double(lower), 1.25)
        }
    }

    func testAShardCountsEachLatencyInTheFirstBucketThatHoldsIt() {
        let shard = MetricsShard(methods: 1)
        for nanoseconds: Int64 in [0, 999, 1_000, 1_001, 4_500, 9_000, 200_000_000_000] {
            shard.record(slot: 0, code: 0, nanoseconds: nanoseconds)
        }
        let histogram = shard.counts.histogram(slot: 0)
        XCTAssertEqual(histogram.map(\.upperBoundMicroseconds), [1, 2, 5, 10, UInt64.max])
        XCTAssertEqual(histogram.map(\.count), [3, 1, 1, 1, 1])
        XCTAssertEqual(shard.counts.maxMicroseconds[0], 200_000_000)
        shard.record(slot: 0, code: 99, nanoseconds: 1)
        XCTAssertEqual(shard.counts.statuses(slot: 0).map(\.code), [0, 2], "codes outside 0-16 count as UNKNOWN")
    }
}
