import PortalDomain
import PortalMessages
import PortalServer
import PortalStore

/// The staff methods for clients and their portal logins (Admin):
/// `CreateClient`, `UpdateClient`, `GetClient`, `ListClients`,
/// `CreatePortalLogin`, and the bulk `DisablePortalLogin`,
/// `EnablePortalLogin`, `RemovePortalLogin`, `SetCanSelfReschedule`.
struct ClientsAPI: Sendable {
    let store: PortalStore
    /// Needed only by `CreatePortalLogin` (password hashing); without it that
    /// method stays unimplemented.
    let accounts: PortalAccounts?
    let authenticator: Authenticator

    func register(on router: inout Router) {
        router.registerAdmin(AdminMethods.createClient, authenticator: authenticator) { request in
            let client = try await store.createClient(
                name: try ClientName(request.name), email: try EmailAddress(request.email),
                phone: try PhoneNumber(request.phone), canSelfReschedule: request.canSelfReschedule)
            return CreateClientResponse(client: PortalMessages.Client(ClientDetails(client: client, login: nil)))
        }

        router.registerAdmin(AdminMethods.updateClient, authenticator: authenticator) { request in
            let changes = ClientChanges(
                name: try request.name.map { try ClientName($0) },
                email: try request.email.map { try EmailAddress($0) },
                phone: try request.phone.map { try PhoneNumber($0) })
            let details = try await store.updateClient(try ClientID(validating: request.clientId), changes)
            return UpdateClientResponse(client: PortalMessages.Client(details))
        }

        router.registerAdmin(AdminMethods.getClient, authenticator: authenticator) { request in
            GetClientResponse(
                client: PortalMessages.Client(
                    try await store.clientDetails(try ClientID(validating: request.clientId))))
        }

        router.registerAdmin(AdminMethods.listClients, authenticator: authenticator) { request in
            let page = try await store.listClients(
                try ClientPageRequest(pageSize: Int(request.pageSize), pageToken: request.pageToken))
            return ListClientsResponse(
                clients: page.clients.map(PortalMessages.Client.init),
                nextPageToken: page.nextPageToken ?? "")
        }

        if let accounts {
            router.registerAdmin(AdminMethods.createPortalLogin, authenticator: authenticator) { request in
                // Validate everything before any password hashing happens.
                let client = try ClientID(validating: request.clientId)
                let username = try PortalUsername(request.username)
                let password = try PortalPassword(new: request.password)
                let details = try await accounts.createPortalLogin(
                    for: client, username: username, password: password)
                return CreatePortalLoginResponse(client: PortalMessages.Client(details))
            }
        }

        router.registerAdmin(AdminMethods.disablePortalLogin, authenticator: authenticator) { request in
            DisablePortalLoginResponse(
                results: try await store.disablePortalLogins(for: try ClientIDList(request.clientIds))
                    .map(PortalMessages.ClientActionResult.init))
        }

        router.registerAdmin(AdminMethods.enablePortalLogin, authenticator: authenticator) { request in
            EnablePortalLoginResponse(
                results: try await store.enablePortalLogins(for: try ClientIDList(request.clientIds))
                    .map(PortalMessages.ClientActionResult.init))
        }

        router.registerAdmin(AdminMethods.removePortalLogin, authenticator: authenticator) { request in
            RemovePortalLoginResponse(
                results: try await store.removePortalLogins(
                    for: try ClientIDList(request.clientIds), deleteUser: request.deleteUser
                ).map(PortalMessages.ClientActionResult.init))
        }

        router.registerAdmin(AdminMethods.setCanSelfReschedule, authenticator: authenticator) { request in
            SetCanSelfRescheduleResponse(
                results: try await store.setCanSelfReschedule(
                    request.canSelfReschedule, for: try ClientIDList(request.clientIds)
                ).map(PortalMessages.ClientActionResult.init))
        }
    }
}
