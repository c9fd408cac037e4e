import PortalMessages
import PortalServer

/// `Admin/GetMetrics`: the server's per-method counters and latency
/// histograms (``CallMetrics``), for staff and monitoring.
struct MetricsAPI: Sendable {
    let metrics: CallMetrics
    let authenticator: Authenticator

    func register(on router: inout Router) {
        router.registerAdmin(AdminMethods.getMetrics, authenticator: authenticator) { _ in
            let snapshot = try await metrics.snapshot()
            return GetMetricsResponse(
                methods: snapshot.methods.map { method in
                    PortalMessages.MethodMetrics(
                        method: method.method, calls: method.calls,
                        statuses: method.statuses.map { StatusCount(code: $0.code, count: $0.count) },
                        p50Us: method.percentileMicroseconds(50), p90Us: method.percentileMicroseconds(90),
                        p99Us: method.percentileMicroseconds(99), maxUs: method.maxMicroseconds,
                        latency: method.latency.map {
                            LatencyBucket(leUs: $0.upperBoundMicroseconds, count: $0.count)
                        })
                },
                uptimeSeconds: snapshot.uptimeSeconds)
        }
    }
}
