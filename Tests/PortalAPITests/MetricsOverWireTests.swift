import PortalClient
import PortalMessages
import PortalWire
import XCTest

/// `Admin/GetMetrics` over real TCP: staff only, and it reports the calls
/// the server answered, per method and status.
final class MetricsOverWireTests: XCTestCase {
    func testGetMetricsCountsCallsPerMethodAndStatusForStaffOnly() async throws {
        try await APITestServer.with { service in
            let admin = service.admin
            _ = try await admin.call(HealthMethods.check, HealthCheckRequest())
            _ = try await admin.call(HealthMethods.check, HealthCheckRequest())
            _ = try await admin.call(AdminMethods.listServices, ListServicesRequest())
            let missing = await expectRPCError {
                try await admin.call(AdminMethods.getClient, GetClientRequest(clientId: 999))
            }
            XCTAssertEqual(missing?.code, .notFound)

            let anonymous = service.anonymousClient()
            let refused = await expectRPCError {
                try await anonymous.call(AdminMethods.getMetrics, GetMetricsRequest())
            }
            XCTAssertEqual(refused?.code, .unauthenticated)
            await anonymous.close()

            let metrics = try await admin.call(AdminMethods.getMetrics, GetMetricsRequest())
            let byName = Dictionary(uniqueKeysWithValues: metrics.methods.map { ($0.method, $0) })
            XCTAssertEqual(byName[HealthMethods.check.fullName]?.calls, 2)
            XCTAssertEqual(byName[AdminMethods.listServices.fullName]?.statuses, [StatusCount(code: 0, count: 1)])
            XCTAssertEqual(byName[AdminMethods.getClient.fullName]?.statuses, [StatusCount(code: 5, count: 1)])
            // The refused GetMetrics was answered, and counted; this one not yet.
            XCTAssertEqual(byName[AdminMethods.getMetrics.fullName]?.statuses, [StatusCount(code: 16, count: 1)])
            XCTAssertNil(byName[AdminMethods.getDay.fullName], "methods never called are left out")
            for method in metrics.methods {
                XCTAssertEqual(method.latency.reduce(0) { $0 + $1.count }, method.calls, method.method)
                XCTAssertLessThanOrEqual(method.p50Us, method.p99Us, method.method)
                XCTAssertLessThanOrEqual(method.p99Us, method.maxUs, method.method)
                XCTAssertGreaterThan(method.maxUs, 0, method.method)
            }
            XCTAssertEqual(metrics.methods.map(\.method), metrics.methods.map(\.method).sorted())
        }
    }
}
