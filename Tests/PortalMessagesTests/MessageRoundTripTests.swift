import PortalMessages
import XCTest

final class MessageRoundTripTests: XCTestCase {
    private let block = TimetableBlock(
        blockId: 42, date: "2025-10-08", startTime: "07:30", endTime: "09:00", label: "Morning Run — Zoë 🐕")

    func testScalarFieldsOfEveryKindRoundTrip() throws {
        let booking = Booking(
            bookingId: Int64.max,
            clientId: -1,  // negative int64: a ten-byte varint
            serviceCode: "walk",
            blockId: 1,
            date: "2025-10-08",
            startTime: "07:30",
            endTime: "08:30",
            blockLabel: "日本語のラベル",
            amountCents: 1_999,
            currency: "gbp",
            paymentIntentId: "pi_123",
            status: .confirmed,
            paymentState: .capturePending,
            createdAt: 1_760_000_000
        )
        try assertRoundTrips(booking)
        try assertRoundTrips(
            ServiceCapacity(
                serviceCode: "daycare", capacity: Int32.min, allowOverlap: true, booked: Int32.max, held: 0,
                remaining: -7))
        try assertRoundTrips(LoginResponse(sessionToken: "t", expiresAt: Int64.min, clientId: 0))
    }

    func testStringsAndBytesOfAnyLengthRoundTrip() throws {
        let long = String(repeating: "aé€𐍈", count: 25_000)  // 250 000 bytes of UTF-8
        let notes = ServiceDefaults(serviceCode: "", durationMinutes: 0, priceCents: 0, currency: "", notes: long)
        let bytes = try assertRoundTrips(UpsertServiceRequest(service: notes))
        XCTAssertGreaterThan(bytes.count, 250_000)

        // Combining characters and emoji sequences survive byte-for-byte.
        let tricky = "e\u{301} 👩‍👩‍👧 \u{FEFF}\u{200D}"
        let decoded = try HealthCheckRequest(serializedBytes: HealthCheckRequest(service: tricky).serializedBytes())
        XCTAssertEqual(Array(decoded.service.utf8), Array(tricky.utf8))

        let payload = (0..<1_048_576).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try assertRoundTrips(RequestEnvelope(id: 1, payload: payload))
        try assertRoundTrips(ResponseEnvelope(payload: [0, 0, 0]))
        try assertRoundTrips(ResponseEnvelope(payload: [0]))
    }

    func testEmptyStringsAreOmittedAndDecodeAsEmpty() throws {
        XCTAssertEqual(LoginRequest(username: "", password: "").serializedBytes(), [])
        XCTAssertEqual(try LoginRequest(serializedBytes: [0x0A, 0x00, 0x12, 0x00]), LoginRequest())
    }

    func testAbsentAndPresentMessageFieldsAreDistinct() throws {
        let absent = CreateBlockResponse()
        let empty = CreateBlockResponse(block: TimetableBlock())
        let full = CreateBlockResponse(block: block)
        XCTAssertEqual(absent.serializedBytes(), [])
        XCTAssertEqual(empty.serializedBytes(), [0x0A, 0x00])
        XCTAssertNil(try CreateBlockResponse(serializedBytes: absent.serializedBytes()).block)
        XCTAssertEqual(try CreateBlockResponse(serializedBytes: empty.serializedBytes()).block, TimetableBlock())
        try assertRoundTrips(full)
        // Nested two levels down.
        try assertRoundTrips(GetDayResponse(date: "2025-10-08", blocks: [BlockCapacities(), BlockCapacities(block: block)]))
    }

    func testRepeatedScalarsArePackedAndAcceptedUnpacked() throws {
        let request = DisablePortalLoginRequest(clientIds: [1, 300, -1])
        let expected: [UInt8] =
            [0x0A, 0x0D, 0x01, 0xAC, 0x02] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        XCTAssertEqual(request.serializedBytes(), expected)
        XCTAssertEqual(try DisablePortalLoginRequest(serializedBytes: expected), request)
        // The unpacked form (one tag per element) decodes to the same list.
        XCTAssertEqual(
            try DisablePortalLoginRequest(serializedBytes: [0x08, 0x01, 0x08, 0xAC, 0x02]).clientIds, [1, 300])
        try assertRoundTrips(RemovePortalLoginRequest(clientIds: Array(1...1000), deleteUser: true))
        try assertRoundTrips(SetCanSelfRescheduleRequest(clientIds: [], canSelfReschedule: true))
    }

    func testRepeatedMessagesRoundTripInOrder() throws {
        var clients: [Client] = []
        for id in 1...1000 {
            let number = Int64(id)
            var client = Client(clientId: number, name: "Client \(id) — Ågot", username: "user\(id)")
            client.email = id % 2 == 0 ? "c\(id)@example.com" : ""
            client.canSelfReschedule = id % 3 == 0
            client.loginState = id % 5 == 0 ? .disabled : .active
            client.createdAt = number * 60
            clients.append(client)
        }
        let response = ListClientsResponse(clients: clients, nextPageToken: "next")
        let decoded = try ListClientsResponse(serializedBytes: response.serializedBytes())
        XCTAssertEqual(decoded.clients.map { $0.clientId }, Array(1...1000))
        XCTAssertEqual(decoded, response)

        // Empty elements are kept: a list of three default results.
        let results = DisablePortalLoginResponse(results: [ClientActionResult(), ClientActionResult(), ClientActionResult()])
        XCTAssertEqual(results.serializedBytes(), [0x0A, 0x00, 0x0A, 0x00, 0x0A, 0x00])
        XCTAssertEqual(try DisablePortalLoginResponse(serializedBytes: results.serializedBytes()).results.count, 3)

        try assertRoundTrips(
            CopyDayResponse(
                blocks: [
                    BlockCapacities(
                        block: block,
                        capacities: [
                            ServiceCapacity(serviceCode: "daycare", capacity: 10, booked: 3, held: 1, remaining: 6),
                            ServiceCapacity(serviceCode: "walk", capacity: 4, allowOverlap: true),
                        ])
                ], replacedBlocks: 2))
    }

    func testOneFieldOneofsDistinguishZeroFromAbsent() throws {
        XCTAssertEqual(StartCheckoutRequest(serviceCode: "walk", blockId: 1).serializedBytes(),
                       [0x0A, 0x04] + Array("walk".utf8) + [0x10, 0x01])
        let zero = StartCheckoutRequest(expectedPriceCents: 0)
        XCTAssertEqual(zero.serializedBytes(), [0x18, 0x00])
        XCTAssertEqual(try StartCheckoutRequest(serializedBytes: [0x18, 0x00]).expectedPriceCents, 0)
        XCTAssertNil(try StartCheckoutRequest(serializedBytes: []).expectedPriceCents)
        try assertRoundTrips(StartCheckoutRequest(serviceCode: "walk", blockId: 9, expectedPriceCents: 2_500))
        try assertRoundTrips(StartCheckoutRequest(expectedPriceCents: -1))

        // A string oneof set to "" is present (1a 00), unlike an absent one.
        let clearEmail = UpdateClientRequest(clientId: 5, email: "")
        XCTAssertEqual(clearEmail.serializedBytes(), [0x08, 0x05, 0x1A, 0x00])
        let decoded = try UpdateClientRequest(serializedBytes: [0x08, 0x05, 0x1A, 0x00])
        XCTAssertEqual(decoded.email, "")
        XCTAssertNil(decoded.name)
        XCTAssertNil(decoded.phone)
        try assertRoundTrips(UpdateClientRequest(clientId: 5, name: "Ngọc", email: nil, phone: "+44 20 7946 0000"))
        try assertRoundTrips(UpdateBlockRequest(blockId: 3, startTime: "", endTime: nil, label: "Evening"))
        XCTAssertEqual(UpdateBlockRequest(blockId: 3).serializedBytes(), [0x08, 0x03])
    }

    func testInvalidUTF8InAOneofStringIsRefused() {
        assertDecodingFails(UpdateBlockRequest.self, [0x22, 0x01, 0xFE], kind: .invalidUTF8, field: "label")
    }

    func testEnumsRoundTripIncludingUnknownValues() throws {
        try assertRoundTrips(Booking(status: .cancelled, paymentState: .refunded))
        try assertRoundTrips(Client(loginState: .none))
        try assertRoundTrips(ClientActionResult(clientId: 1, outcome: .noLogin))

        // A value from a newer contract survives decoding and re-encoding.
        let future: [UInt8] = [0x60, 0x07]  // Booking.status = 7
        let booking = try Booking(serializedBytes: future)
        XCTAssertEqual(booking.status, .unrecognized(7))
        XCTAssertEqual(booking.serializedBytes(), future)

        // Negative values are ten-byte varints.
        let negative: [UInt8] = [0x08] + Array(repeating: 0xFF, count: 9) + [0x01]
        let response = try HealthCheckResponse(serializedBytes: negative)
        XCTAssertEqual(response.status, .unrecognized(-1))
        XCTAssertEqual(response.serializedBytes(), negative)
        XCTAssertEqual(HealthCheckResponse(status: .init(rawValue: Int32.min)).status.rawValue, Int32.min)
        try assertRoundTrips(HealthCheckResponse(status: .unrecognized(Int32.max)))
    }

    func testMemberwiseInitializerDefaultsAndFieldNames() {
        let request = ListBlocksRequest(date: "2025-10-08", serviceCode: "walk")
        XCTAssertEqual(request.date, "2025-10-08")
        XCTAssertEqual(request.serviceCode, "walk")
        var envelope = RequestEnvelope()
        envelope.timeoutMs = 10
        envelope.metadata["authorization"] = "Bearer abc"
        XCTAssertEqual(envelope, RequestEnvelope(metadata: ["authorization": "Bearer abc"], timeoutMs: 10))
        XCTAssertEqual(SetCanSelfRescheduleRequest(clientIds: [1]).clientIds, [1])
        XCTAssertEqual(Booking().status, .unspecified)
        XCTAssertEqual(Booking().paymentState, .unspecified)
        XCTAssertNil(UpsertServiceResponse().service)
        XCTAssertFalse(UpsertServiceResponse().created)
    }

    func testStringsWithNULAreEncodedWithAReplacementCharacter() throws {
        // protobuf-c strings are C strings: a NUL cannot be encoded, and
        // cutting the string there would silently lose the rest.
        let status = Status(code: 3, message: "a\u{0}b")
        let decoded = try Status(serializedBytes: status.serializedBytes())
        XCTAssertEqual(decoded.message, "a\u{FFFD}b")
        XCTAssertEqual(
            try Status(serializedBytes: Status(details: ["k\u{0}": "\u{0}"]).serializedBytes()).details,
            ["k\u{FFFD}": "\u{FFFD}"])
    }

    func testValuesAreSendableAcrossTasks() async throws {
        let request = ListBlocksRequest(date: "2025-10-08", serviceCode: "walk")
        let bytes = await Task.detached { request.serializedBytes() }.value
        XCTAssertEqual(try ListBlocksRequest(serializedBytes: bytes), request)
    }
}
