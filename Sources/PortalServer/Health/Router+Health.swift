import PortalMessages
import PortalWire

extension Router {
    /// Registers `portal.v1.Health/Check`, modelled on grpc.health.v1.
    ///
    /// It needs no credentials and runs inline on the event loop. The empty
    /// name and every service of the contract (``serviceNames``, e.g.
    /// `portal.v1.Admin`) answer SERVING, or NOT_SERVING once the server
    /// drains; any other name answers NOT_FOUND. It keeps answering while the
    /// server drains, so that load balancers see NOT_SERVING.
    public mutating func registerHealthService() {
        // The services known now, plus Health itself and the whole server ("").
        let services = serviceNames.union(["", HealthMethods.check.service])
        registerInline(HealthMethods.check, servesWhileDraining: true) {
            (request: HealthCheckRequest, context: RequestContext) throws(RPCError) -> HealthCheckResponse in
            guard services.contains(request.service) else {
                throw RPCError(
                    code: .notFound, reason: "SERVICE_NOT_FOUND",
                    message: "No service of that name.", details: ["field": "service"])
            }
            return HealthCheckResponse(status: context.isDraining ? .notServing : .serving)
        }
    }
}
