import PortalClient
import PortalDomain
import PortalMessages
import PortalWire
import XCTest

/// Issue 4 over real TCP: the Admin client methods and the bulk login
/// controls, with the real store.
final class ClientsOverWireTests: XCTestCase {
    func testCreateGetUpdateAndListClients() async throws {
        try await APITestServer.with { service in
            let admin = service.admin
            let created = try await admin.call(
                AdminMethods.createClient,
                CreateClientRequest(name: "Ada Lovelace", email: "ada@example.com", phone: "0123", canSelfReschedule: true))
            let ada = try XCTUnwrap(created.client)
            XCTAssertGreaterThan(ada.clientId, 0)
            XCTAssertEqual(ada.loginState, .none)
            XCTAssertEqual(ada.username, "")
            XCTAssertTrue(ada.canSelfReschedule)
            XCTAssertEqual(ada.createdAt, service.clock.now.unixSeconds)

            let read = try await admin.call(AdminMethods.getClient, GetClientRequest(clientId: ada.clientId))
            XCTAssertEqual(read.client, ada)

            // Absent fields stay; "" clears the e-mail address.
            let updated = try await admin.call(
                AdminMethods.updateClient, UpdateClientRequest(clientId: ada.clientId, name: "Ada King", email: ""))
            XCTAssertEqual(updated.client?.name, "Ada King")
            XCTAssertEqual(updated.client?.email, "")
            XCTAssertEqual(updated.client?.phone, "0123")

            for index in 0..<4 {
                _ = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: "Client \(index)"))
            }
            let first = try await admin.call(AdminMethods.listClients, ListClientsRequest(pageSize: 2))
            XCTAssertEqual(first.clients.map(\.name), ["Ada King", "Client 0"])
            XCTAssertFalse(first.nextPageToken.isEmpty)
            let second = try await admin.call(
                AdminMethods.listClients, ListClientsRequest(pageSize: 2, pageToken: first.nextPageToken))
            XCTAssertEqual(second.clients.map(\.name), ["Client 1", "Client 2"])
            let last = try await admin.call(
                AdminMethods.listClients, ListClientsRequest(pageSize: 2, pageToken: second.nextPageToken))
            XCTAssertEqual(last.clients.map(\.name), ["Client 3"])
            XCTAssertEqual(last.nextPageToken, "")
            let all = try await admin.call(AdminMethods.listClients, ListClientsRequest())
            XCTAssertEqual(all.clients.count, 5)
        }
    }

    func testBadInputIsRefusedPreciselyAndChangesNothing() async throws {
        try await APITestServer.with { service in
            let admin = service.admin
            let client = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: "Ada")).client!
            let before = try await admin.call(AdminMethods.listClients, ListClientsRequest())

            let cases: [(String, () async throws -> Void, StatusCode, String, String?)] = [
                ("empty name", { _ = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: " ")) },
                 .invalidArgument, "INVALID_NAME", "name"),
                ("bad email", { _ = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: "A", email: "nope")) },
                 .invalidArgument, "INVALID_EMAIL", "email"),
                ("long phone", {
                    _ = try await admin.call(
                        AdminMethods.createClient, CreateClientRequest(name: "A", phone: String(repeating: "1", count: 41)))
                }, .invalidArgument, "INVALID_PHONE", "phone"),
                ("update bad email", {
                    _ = try await admin.call(AdminMethods.updateClient, UpdateClientRequest(clientId: client.clientId, email: "a@b"))
                }, .invalidArgument, "INVALID_EMAIL", "email"),
                ("update unknown", {
                    _ = try await admin.call(AdminMethods.updateClient, UpdateClientRequest(clientId: 999, name: "X"))
                }, .notFound, "CLIENT_NOT_FOUND", "client_id"),
                ("get zero id", { _ = try await admin.call(AdminMethods.getClient, GetClientRequest(clientId: 0)) },
                 .invalidArgument, "INVALID_ID", "client_id"),
                ("get unknown", { _ = try await admin.call(AdminMethods.getClient, GetClientRequest(clientId: 999)) },
                 .notFound, "CLIENT_NOT_FOUND", "client_id"),
                ("negative page size", { _ = try await admin.call(AdminMethods.listClients, ListClientsRequest(pageSize: -1)) },
                 .invalidArgument, "INVALID_PAGE_SIZE", "page_size"),
                ("forged page token", {
                    _ = try await admin.call(AdminMethods.listClients, ListClientsRequest(pageToken: "42"))
                }, .invalidArgument, "INVALID_PAGE_TOKEN", "page_token"),
                ("no ids", { _ = try await admin.call(AdminMethods.disablePortalLogin, DisablePortalLoginRequest()) },
                 .invalidArgument, "INVALID_CLIENT_IDS", "client_ids"),
                ("too many ids", {
                    _ = try await admin.call(
                        AdminMethods.setCanSelfReschedule,
                        SetCanSelfRescheduleRequest(clientIds: Array(repeating: client.clientId, count: 1001), canSelfReschedule: true))
                }, .invalidArgument, "INVALID_CLIENT_IDS", "client_ids"),
                ("short username", {
                    _ = try await admin.call(
                        AdminMethods.createPortalLogin,
                        CreatePortalLoginRequest(clientId: client.clientId, username: "ab", password: "long enough"))
                }, .invalidArgument, "INVALID_USERNAME", "username"),
                ("short password", {
                    _ = try await admin.call(
                        AdminMethods.createPortalLogin,
                        CreatePortalLoginRequest(clientId: client.clientId, username: "ada", password: "short"))
                }, .invalidArgument, "INVALID_PASSWORD", "password"),
                ("login for unknown client", {
                    _ = try await admin.call(
                        AdminMethods.createPortalLogin,
                        CreatePortalLoginRequest(clientId: 999, username: "ada", password: "long enough"))
                }, .notFound, "CLIENT_NOT_FOUND", "client_id"),
            ]
            for (name, call, code, reason, field) in cases {
                let error = await expectRPCError(call)
                XCTAssertEqual(error?.code, code, name)
                XCTAssertEqual(error?.reason.rawValue, reason, name)
                if let field { XCTAssertEqual(error?.details["field"], field, name) }
            }
            let after = try await admin.call(AdminMethods.listClients, ListClientsRequest())
            XCTAssertEqual(after, before)
        }
    }

    func testLoginsAndBulkActionsAnswerPerClientAndShowInTheList() async throws {
        try await APITestServer.with { service in
            let admin = service.admin
            let withLogin = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: "With login")).client!
            let without = try await admin.call(AdminMethods.createClient, CreateClientRequest(name: "Without")).client!
            let login = try await admin.call(
                AdminMethods.createPortalLogin,
                CreatePortalLoginRequest(clientId: withLogin.clientId, username: "with.login", password: "correct horse"))
            XCTAssertEqual(login.client?.loginState, .active)
            XCTAssertEqual(login.client?.username, "with.login")

            let taken = await expectRPCError {
                try await admin.call(
                    AdminMethods.createPortalLogin,
                    CreatePortalLoginRequest(clientId: without.clientId, username: "with.login", password: "correct horse"))
            }
            XCTAssertEqual(taken?.code, .alreadyExists)
            XCTAssertEqual(taken?.reason.rawValue, "USERNAME_TAKEN")
            let twice = await expectRPCError {
                try await admin.call(
                    AdminMethods.createPortalLogin,
                    CreatePortalLoginRequest(clientId: withLogin.clientId, username: "another", password: "correct horse"))
            }
            XCTAssertEqual(twice?.code, .alreadyExists)

            let ids = [withLogin.clientId, 404, without.clientId]
            let disabled = try await admin.call(AdminMethods.disablePortalLogin, DisablePortalLoginRequest(clientIds: ids))
            XCTAssertEqual(disabled.results.map(\.clientId), ids)
            XCTAssertEqual(disabled.results.map(\.outcome), [.done, .notFound, .noLogin])

            let flags = try await admin.call(
                AdminMethods.setCanSelfReschedule, SetCanSelfRescheduleRequest(clientIds: ids, canSelfReschedule: true))
            XCTAssertEqual(flags.results.map(\.outcome), [.done, .notFound, .done])

            let listed = try await admin.call(AdminMethods.listClients, ListClientsRequest())
            XCTAssertEqual(listed.clients.map(\.loginState), [.disabled, .none])
            XCTAssertEqual(listed.clients.map(\.username), ["with.login", ""])
            XCTAssertEqual(listed.clients.map(\.canSelfReschedule), [true, true])

            let enabled = try await admin.call(AdminMethods.enablePortalLogin, EnablePortalLoginRequest(clientIds: ids))
            XCTAssertEqual(enabled.results.map(\.outcome), [.done, .notFound, .noLogin])
            let removed = try await admin.call(
                AdminMethods.removePortalLogin, RemovePortalLoginRequest(clientIds: ids, deleteUser: true))
            XCTAssertEqual(removed.results.map(\.outcome), [.done, .notFound, .noLogin])
            let after = try await admin.call(AdminMethods.getClient, GetClientRequest(clientId: withLogin.clientId))
            XCTAssertEqual(after.client?.loginState, PortalMessages.PortalLoginState.none)
        }
    }
}
