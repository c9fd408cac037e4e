import PortalDomain
import PortalStore
import XCTest

/// Clients as staff manage them: validation, reading with login state,
/// partial updates, paging, the reschedule flag in bulk.
final class ClientTests: XCTestCase {
    private var fixture: StoreFixture!
    private var store: PortalStore { fixture.store }

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    private func assertRefused<T>(
        _ kind: PortalError.Kind, _ reason: PortalError.Reason, field: String? = nil,
        file: StaticString = #filePath, line: UInt = #line, _ body: @escaping () async throws -> T
    ) async throws {
        let before = try fixture.snapshot()
        await assertPortalError(kind, reason, field: field, file: file, line: line, body)
        XCTAssertEqual(try fixture.snapshot(), before, "the database changed", file: file, line: line)
    }

    func testCreateClientStoresFieldsAndShowsNoLogin() async throws {
        let created = try await store.createClient(
            name: "Ada Lovelace", email: "ada@example.com", phone: "+44 20 7946 0958",
            canSelfReschedule: true)
        XCTAssertEqual(created.createdAt, fixture.clock.now)
        let read = try await store.clientDetails(created.id)
        XCTAssertEqual(read.client, created)
        XCTAssertEqual(read.loginState, .none)
        XCTAssertNil(read.login)
        XCTAssertTrue(read.client.canSelfReschedule)
        XCTAssertEqual(try fixture.auditCount(event: "client.created"), 1)

        let plain = try await store.createClient(name: "Bob")
        XCTAssertFalse(plain.canSelfReschedule, "the flag defaults to false")
        XCTAssertEqual(plain.email, "")
        XCTAssertEqual(plain.phone, "")
    }

    func testCreateClientRefusalsNameTheFieldAndWriteNothing() async throws {
        try await assertRefused(.invalidArgument, .invalidName, field: "name") {
            try await self.store.createClient(name: "")
        }
        try await assertRefused(.invalidArgument, .invalidName, field: "name") {
            try await self.store.createClient(name: "   ")
        }
        try await assertRefused(.invalidArgument, .invalidName, field: "name") {
            try await self.store.createClient(name: String(repeating: "n", count: 201))
        }
        try await assertRefused(.invalidArgument, .invalidName, field: "name") {
            try await self.store.createClient(name: "Line\nbreak")
        }
        try await assertRefused(.invalidArgument, .invalidEmail, field: "email") {
            try await self.store.createClient(name: "A", email: "not-an-address")
        }
        try await assertRefused(.invalidArgument, .invalidEmail, field: "email") {
            try await self.store.createClient(
                name: "A", email: String(repeating: "a", count: 60) + "@" + String(repeating: "b", count: 190) + ".com")
        }
        try await assertRefused(.invalidArgument, .invalidPhone, field: "phone") {
            try await self.store.createClient(name: "A", phone: String(repeating: "1", count: 41))
        }
        // The limits themselves are accepted.
        _ = try await store.createClient(
            name: String(repeating: "n", count: 200), email: "x@example.org",
            phone: String(repeating: "1", count: 40))
    }

    func testGetUnknownClientIsNotFound() async throws {
        await assertPortalError(.notFound, .clientNotFound) {
            try await self.store.clientDetails(ClientID(rawValue: 404))
        }
    }

    func testUpdateChangesOnlyTheGivenFields() async throws {
        let client = try await store.createClient(
            name: "Ada", email: "ada@example.com", phone: "0123", canSelfReschedule: true)
        fixture.clock.advance(bySeconds: 60)

        let renamed = try await store.updateClient(client.id, ClientChanges(name: ClientName("Ada King")))
        XCTAssertEqual(renamed.client.name, "Ada King")
        XCTAssertEqual(renamed.client.email, "ada@example.com")
        XCTAssertEqual(renamed.client.phone, "0123")
        XCTAssertTrue(renamed.client.canSelfReschedule)
        XCTAssertEqual(renamed.client.createdAt, client.createdAt)

        let cleared = try await store.updateClient(
            client.id, ClientChanges(email: EmailAddress(""), phone: PhoneNumber("")))
        XCTAssertEqual(cleared.client.name, "Ada King")
        XCTAssertEqual(cleared.client.email, "")
        XCTAssertEqual(cleared.client.phone, "")
        XCTAssertEqual(try fixture.auditCount(event: "client.updated"), 2)

        // Nothing to change: no write, no audit entry.
        let same = try await store.updateClient(client.id, ClientChanges())
        XCTAssertEqual(same, cleared)
        XCTAssertEqual(try fixture.auditCount(event: "client.updated"), 2)

        try await assertRefused(.notFound, .clientNotFound) {
            try await self.store.updateClient(ClientID(rawValue: 999), ClientChanges(name: ClientName("X")))
        }
    }

    func testListClientsPagesByIDWithOpaqueTokens() async throws {
        var ids: [ClientID] = []
        for index in 0..<7 { ids.append(try await fixture.client("C\(index)")) }

        let first = try await store.listClients(ClientPageRequest(pageSize: 3, pageToken: ""))
        XCTAssertEqual(first.clients.map(\.id), Array(ids[0..<3]))
        let firstToken = try XCTUnwrap(first.nextPageToken)
        XCTAssertFalse(firstToken.contains(String(ids[2].rawValue)), "the token is opaque")

        // A client added meanwhile does not shift the pages.
        let late = try await fixture.client("Late")
        let second = try await store.listClients(ClientPageRequest(pageSize: 3, pageToken: firstToken))
        XCTAssertEqual(second.clients.map(\.id), Array(ids[3..<6]))
        let third = try await store.listClients(
            ClientPageRequest(pageSize: 3, pageToken: try XCTUnwrap(second.nextPageToken)))
        XCTAssertEqual(third.clients.map(\.id), [ids[6], late])
        XCTAssertNil(third.nextPageToken, "the last page has no next token")

        let all = try await store.listClients(ClientPageRequest(pageSize: 0, pageToken: ""))
        XCTAssertEqual(all.clients.count, 8)
        XCTAssertNil(all.nextPageToken)

        // Exactly one page's worth: no empty page after it.
        let exact = try await store.listClients(ClientPageRequest(pageSize: 8, pageToken: ""))
        XCTAssertEqual(exact.clients.count, 8)
        XCTAssertNil(exact.nextPageToken)
    }

    func testPageRequestDefaultsClampsAndRefuses() throws {
        XCTAssertEqual(try ClientPageRequest(pageSize: 0, pageToken: "").pageSize, 50)
        XCTAssertEqual(try ClientPageRequest(pageSize: 500, pageToken: "").pageSize, 500)
        XCTAssertEqual(try ClientPageRequest(pageSize: 10_000, pageToken: "").pageSize, 500)
        assertPortalErrorSync(.invalidArgument, .invalidPageSize, field: "page_size") {
            try ClientPageRequest(pageSize: -1, pageToken: "")
        }
        for bad in ["x", "!!!!", "Y2xpZW50czow", "Y2xpZW50czotMQ", "abc", "Y2xpZW50czowNQ"] {
            assertPortalErrorSync(.invalidArgument, .invalidPageToken, field: "page_token") {
                try ClientPageRequest(pageSize: 10, pageToken: bad)
            }
        }
        let token = ClientPageRequest.token(after: ClientID(rawValue: 42))
        XCTAssertEqual(try ClientPageRequest(pageSize: 10, pageToken: token).afterID, 42)
    }

    func testListShowsLoginStateUsernameAndRescheduleFlag() async throws {
        let accounts = try fixture.accounts()
        let none = try await fixture.client("None")
        let active = try await fixture.clientWithLogin(accounts, name: "Active", username: "active.user")
        let disabled = try await fixture.clientWithLogin(accounts, name: "Disabled", username: "disabled@example.com")
        _ = try await store.disablePortalLogins(for: ClientIDList([disabled]))
        _ = try await store.setCanSelfReschedule(true, for: ClientIDList([active]))

        let page = try await store.listClients(ClientPageRequest(pageSize: 0, pageToken: ""))
        let byID = Dictionary(uniqueKeysWithValues: page.clients.map { ($0.id, $0) })
        XCTAssertEqual(byID[none]?.loginState, PortalLoginState.none)
        XCTAssertNil(byID[none]?.login?.username)
        XCTAssertEqual(byID[active]?.loginState, .active)
        XCTAssertEqual(byID[active]?.login?.username.rawValue, "active.user")
        XCTAssertEqual(byID[active]?.client.canSelfReschedule, true)
        XCTAssertEqual(byID[disabled]?.loginState, .disabled)
        XCTAssertEqual(byID[disabled]?.login?.username.rawValue, "disabled@example.com")
        XCTAssertEqual(byID[disabled]?.client.canSelfReschedule, false)
    }

    func testSetCanSelfRescheduleAnswersPerClientInRequestOrder() async throws {
        let a = try await fixture.client("A")
        let b = try await fixture.client("B")
        let missing = ClientID(rawValue: 9_999)
        let results = try await store.setCanSelfReschedule(
            true, for: ClientIDList([b, missing, a, b]))
        XCTAssertEqual(
            results,
            [
                ClientActionResult(client: b, outcome: .done),
                ClientActionResult(client: missing, outcome: .notFound),
                ClientActionResult(client: a, outcome: .done),
                ClientActionResult(client: b, outcome: .done),
            ])
        let readA = try await store.client(a)
        let readB = try await store.client(b)
        XCTAssertTrue(readA.canSelfReschedule)
        XCTAssertTrue(readB.canSelfReschedule)
        // Only real changes are audited (b's second mention changed nothing).
        XCTAssertEqual(try fixture.auditCount(event: "client.reschedule_flag_set"), 2)

        _ = try await store.setCanSelfReschedule(false, for: ClientIDList([a]))
        let offA = try await store.client(a)
        XCTAssertFalse(offA.canSelfReschedule)
    }

    func testBulkIDListsAreValidated() {
        assertPortalErrorSync(.invalidArgument, .invalidClientIDs, field: "client_ids") {
            try ClientIDList([Int64]())
        }
        assertPortalErrorSync(.invalidArgument, .invalidClientIDs, field: "client_ids") {
            try ClientIDList(Array(repeating: Int64(1), count: 1001))
        }
        assertPortalErrorSync(.invalidArgument, .invalidClientIDs, field: "client_ids") {
            try ClientIDList([1, 0, 2])
        }
        XCTAssertEqual(try ClientIDList(Array(repeating: Int64(7), count: 1000)).ids.count, 1000)
    }
}

/// Synchronous twin of `assertPortalError`.
func assertPortalErrorSync<T>(
    _ kind: PortalError.Kind, _ reason: PortalError.Reason, field: String? = nil,
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
) {
    do {
        _ = try body()
        XCTFail("expected \(reason), but the call succeeded", file: file, line: line)
    } catch let error as PortalError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertEqual(error.reason, reason, "\(error)", file: file, line: line)
        if let field { XCTAssertEqual(error.field, field, file: file, line: line) }
    } catch {
        XCTFail("expected PortalError \(reason), got \(error)", file: file, line: line)
    }
}
