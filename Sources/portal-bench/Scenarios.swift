import PortalMessages
import PortalWire

/// The load a run applies.
enum Scenario: String, CaseIterable, Sendable {
    /// `portal.v1.Health/Check`: no credentials, no storage — the server's floor.
    case health
    /// `portal.v1.Portal/ListBlocks` of the seeded day, with a session.
    case listBlocks = "list-blocks"
    /// `portal.v1.Portal/StartCheckout` (holds only).
    case startCheckout = "start-checkout"
    /// StartCheckout + FinalizeCheckout pairs (needs `portald --payments simulated`).
    case checkout
    /// 90 % list-blocks, 10 % checkout pairs.
    case mixed
    /// No load: opens idle connections and reports what they cost the server.
    case idle

    var needsFixture: Bool { self != .health && self != .idle }
}

/// Builds request frames: a 4-byte big-endian length, then the encoded
/// `RequestEnvelope`.
struct RequestFrames: Sendable {
    var timeoutMilliseconds: UInt32

    func frame(id: UInt64, method: String, token: String?, payload: [UInt8]) -> [UInt8] {
        let envelope = RequestEnvelope(
            id: id, method: method,
            metadata: token.map { [MetadataKey.authorization: "Bearer \($0)"] } ?? [:],
            timeoutMs: timeoutMilliseconds, payload: payload)
        let body = envelope.serializedBytes()
        var frame: [UInt8] = []
        frame.reserveCapacity(4 + body.count)
        let count = UInt32(body.count)
        frame.append(contentsOf: [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)])
        frame.append(contentsOf: body)
        return frame
    }

    func health(id: UInt64) -> [UInt8] {
        frame(
            id: id, method: HealthMethods.check.fullName, token: nil,
            payload: HealthCheckRequest().serializedBytes())
    }

    func listBlocks(id: UInt64, fixture: BenchFixture, variant: Int) -> [UInt8] {
        frame(
            id: id, method: PortalMethods.listBlocks.fullName,
            token: fixture.sessionTokens[variant % fixture.sessionTokens.count],
            payload: ListBlocksRequest(
                date: fixture.date, serviceCode: fixture.services[variant % fixture.services.count]
            ).serializedBytes())
    }
}

/// The slots of one connection for a pre-encoded scenario: every frame is
/// built before the run, with the slot's id in place.
func prebuiltSlots(
    scenario: Scenario, connection: Int, inFlight: Int, frames: RequestFrames, fixture: BenchFixture?
) throws -> [any SlotDriver] {
    try (0..<inFlight).map { slot -> any SlotDriver in
        let id = UInt64(slot + 1)
        switch scenario {
        case .health:
            return PrebuiltSlot(frame: frames.health(id: id))
        case .listBlocks:
            return PrebuiltSlot(
                frame: frames.listBlocks(id: id, fixture: fixture!, variant: connection * inFlight + slot))
        default:
            throw BenchError("scenario \(scenario.rawValue) has no pre-encoded form")
        }
    }
}

/// The slots of one connection for `scenario` in raw mode.
func rawSlots(
    scenario: Scenario, connection: Int, connections: Int, inFlight: Int, frames: RequestFrames,
    fixture: BenchFixture?
) throws -> [any SlotDriver] {
    switch scenario {
    case .startCheckout, .checkout, .mixed:
        return checkoutSlots(
            scenario: scenario, connection: connection, connections: connections, inFlight: inFlight,
            frames: frames, fixture: fixture!)
    default:
        return try prebuiltSlots(
            scenario: scenario, connection: connection, inFlight: inFlight, frames: frames, fixture: fixture)
    }
}
