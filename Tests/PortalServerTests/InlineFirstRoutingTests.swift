import Logging
import NIOConcurrencyHelpers
import NIOCore
import PortalMessages
import PortalServer
import PortalWire
import XCTest

/// A method registered with a fast path answers on the event loop when the
/// fast path can (from the request's bytes, before decoding), and otherwise
/// runs its asynchronous handler, with the same answer on the wire either
/// way.
final class InlineFirstRoutingTests: XCTestCase {
    func testTheRawFastPathSeesTheBytesFirstAndMalformedOnesStillGetTheDecodingError() async throws {
        let known = NIOLockedValueBox<Set<[UInt8]>>([])
        var router = Router.portalContract()
        router.register(
            HealthMethods.check,
            rawInline: { payload, _ -> EncodedResponse? in
                known.withLockedValue { $0.contains(payload) }
                    ? EncodedResponse(HealthCheckResponse(status: .serving)) : nil
            },
            handler: { (request: HealthCheckRequest, _) in
                known.withLockedValue { _ = $0.insert(request.serializedBytes()) }
                return HealthCheckResponse(status: .notServing)
            })
        try await TestServer.with(router: router) { server in
            let client = try await server.connect()
            let payload = HealthCheckRequest(service: "portal.v1.Portal").serializedBytes()
            for (id, expected) in [(1, HealthCheckResponse.ServingStatus.notServing), (2, .serving)] {
                let answer = try await client.call(
                    RequestEnvelope(id: UInt64(id), method: HealthMethods.check.fullName, payload: payload))
                XCTAssertEqual(answer.status?.code, 0)
                XCTAssertEqual(try HealthCheckResponse(serializedBytes: answer.payload).status, expected)
            }
            let malformed = try await client.call(
                RequestEnvelope(id: 3, method: HealthMethods.check.fullName, payload: [0xFF]))
            XCTAssertEqual(malformed.status?.code, StatusCode.invalidArgument.rawValue)
            XCTAssertEqual(malformed.status?.reason, ErrorReason.malformedPayload.rawValue)
            await client.close()
        }
    }
}
