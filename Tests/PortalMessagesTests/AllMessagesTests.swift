import Foundation
import PortalMessages
import XCTest

/// Properties every generated message must have.
final class AllMessagesTests: XCTestCase {
    static let allTypes: [any ProtoMessage.Type] = [
        AvailableBlock.self, BlockCapacities.self, Booking.self, CancelCheckoutRequest.self, 
        CancelCheckoutResponse.self, Client.self, ClientActionResult.self, CopyDayRequest.self, 
        CopyDayResponse.self, CreateBlockRequest.self, CreateBlockResponse.self, CreateClientRequest.self, 
        CreateClientResponse.self, CreatePortalLoginRequest.self, CreatePortalLoginResponse.self, 
        DeleteBlockRequest.self, DeleteBlockResponse.self, DisablePortalLoginRequest.self, 
        DisablePortalLoginResponse.self, EnablePortalLoginRequest.self, EnablePortalLoginResponse.self, 
        FinalizeCheckoutRequest.self, FinalizeCheckoutResponse.self, GetClientRequest.self, 
        GetClientResponse.self, GetDayRequest.self, GetDayResponse.self, GetMetricsRequest.self,
        GetMetricsResponse.self, LatencyBucket.self, MethodMetrics.self, StatusCount.self, HealthCheckRequest.self, 
        HealthCheckResponse.self, ListBlocksRequest.self, ListBlocksResponse.self, 
        ListBookingsRequest.self, ListBookingsResponse.self, ListClientsRequest.self, 
        ListClientsResponse.self, ListMyBookingsRequest.self, ListMyBookingsResponse.self, 
        ListServicesRequest.self, ListServicesResponse.self, LoginRequest.self, LoginResponse.self, 
        LogoutRequest.self, LogoutResponse.self, RemoveCapacityRequest.self, RemoveCapacityResponse.self, 
        RemovePortalLoginRequest.self, RemovePortalLoginResponse.self, RequestEnvelope.self, 
        RescheduleBookingRequest.self, RescheduleBookingResponse.self, ResponseEnvelope.self, 
        ServiceCapacity.self, ServiceDefaults.self, SetCanSelfRescheduleRequest.self, 
        SetCanSelfRescheduleResponse.self, SetCapacityRequest.self, SetCapacityResponse.self, 
        StartCheckoutRequest.self, StartCheckoutResponse.self, Status.self, TimetableBlock.self, 
        UpdateBlockRequest.self, UpdateBlockResponse.self, UpdateClientRequest.self, 
        UpdateClientResponse.self, UpsertServiceRequest.self, UpsertServiceResponse.self,
    ]

    func testEveryMessageOfTheContractIsListedHere() throws {
        let protoDir = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("proto/portal/v1")
        var names: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: protoDir.path) where file.hasSuffix(".proto") {
            let text = try String(contentsOf: protoDir.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("message ") {
                names.append("portal.v1." + line.split(separator: " ")[1])
            }
        }
        XCTAssertEqual(Self.allTypes.map { $0.protoMessageName }.sorted(), names.sorted())
    }

    func testDefaultsEncodeToNothingAndEmptyInputDecodesToDefaults() throws {
        for type in Self.allTypes {
            try checkDefaults(type)
        }
    }

    private func checkDefaults<M: ProtoMessage>(_: M.Type) throws {
        XCTAssertEqual(M().serializedBytes(), [], "\(M.self)")
        XCTAssertEqual(try M(serializedBytes: []), M(), "\(M.self)")
        XCTAssertTrue(M.protoMessageName.hasSuffix(".\(M.self)"), M.protoMessageName)
    }

    /// Mutated encodings either decode to a value that re-encodes stably, or
    /// fail with one of the three kinds; under ASan this also shows that no
    /// input makes the bridge touch memory it does not own.
    func testMutatedInputNeverBreaksTheDecoder() throws {
        var random = SplitMix64(seed: 0x5EED)
        let seeds: [(any ProtoMessage)] = [
            RequestEnvelope(id: 7, method: "portal.v1.Admin/GetDay", metadata: ["authorization": "Bearer x", "é": "ü"],
                            timeoutMs: 900, payload: [1, 2, 3]),
            ResponseEnvelope(id: 7, status: Status(code: 5, message: "no", reason: "NOT_FOUND", details: ["field": "id"])),
            GetDayResponse(date: "2025-10-08", blocks: [
                BlockCapacities(block: TimetableBlock(blockId: 1, date: "d", startTime: "s", endTime: "e", label: "l"),
                                capacities: [ServiceCapacity(serviceCode: "walk", capacity: 3)]),
            ]),
            UpdateClientRequest(clientId: 1, name: "n", email: "", phone: nil),
            DisablePortalLoginRequest(clientIds: [1, 2, 300_000, -5]),
        ]
        var decodedCount = 0
        for seed in seeds {
            decodedCount += try mutateAndDecode(seed, iterations: 2_000, random: &random)
        }
        // Both outcomes were exercised.
        XCTAssertGreaterThan(decodedCount, 500)
        XCTAssertLessThan(decodedCount, 9_500)
    }

    /// Decodes `iterations` random mutations of `seed`'s encoding; returns how many decoded.
    private func mutateAndDecode<M: ProtoMessage>(
        _ seed: M, iterations: Int, random: inout SplitMix64
    ) throws -> Int {
        let original = seed.serializedBytes()
        var decoded = 0
        for _ in 0..<iterations {
            var bytes = original
            for _ in 0...random.next(below: 3) {
                switch random.next(below: 4) {
                case 0 where !bytes.isEmpty:
                    bytes[random.next(below: bytes.count)] = UInt8(truncatingIfNeeded: random.next())
                case 1 where !bytes.isEmpty:
                    bytes.removeLast(random.next(below: bytes.count) + 1)
                case 2:
                    bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: random.next(below: bytes.count + 1))
                default:
                    bytes += (0..<random.next(below: 5)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                }
            }
            do {
                let message = try M(serializedBytes: bytes)
                XCTAssertEqual(try M(serializedBytes: message.serializedBytes()), message)
                decoded += 1
            } catch {
                XCTAssertTrue([.malformed, .invalidUTF8, .embeddedNUL].contains(error.kind), "\(error)")
            }
        }
        return decoded
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}
