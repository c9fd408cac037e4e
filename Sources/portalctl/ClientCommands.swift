import ArgumentParser
import Foundation
import PortalClient
import PortalMessages
import PortalWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// `portalctl client …`: clients and their portal logins.

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Clients and their portal logins.",
        discussion: """
            The bulk commands (disable-login, enable-login, remove-login, set-reschedule) take \
            several client ids and print one line per id: done, not found or no login. They exit \
            with status 1 when any id was not done.
            """,
        subcommands: [
            ClientCreateCommand.self, ClientListCommand.self, ClientGetCommand.self,
            ClientUpdateCommand.self, ClientCreateLoginCommand.self, ClientDisableLoginCommand.self,
            ClientEnableLoginCommand.self, ClientRemoveLoginCommand.self,
            ClientSetRescheduleCommand.self,
        ])
}

struct ClientCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Add a client.")

    @Argument(help: "Full name, 1-200 characters.") var name: String
    @Option(help: "E-mail address.") var email: String = ""
    @Option(help: "Phone number.") var phone: String = ""
    @Flag(help: "Let the client move its own bookings (default: not allowed).") var reschedule = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("the name must not be empty")
        }
    }

    func run() async throws {
        let request = CreateClientRequest(name: name, email: email, phone: phone, canSelfReschedule: reschedule)
        let created = try await global.withClient { client, _ in
            try await client.call(AdminMethods.createClient, request)
        }
        print("Created client:")
        print(Rendering.client(created.client ?? Client()))
    }
}

struct ClientListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List clients by id, with login state and reschedule flag.")

    @Option(parsing: .unconditional, help: "Clients per page, 1-500.") var pageSize: Int32 = 50
    @Option(help: "Start at this page (the token a previous list printed).") var pageToken: String = ""
    @Flag(help: "Follow every page to the end.") var all = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...500).contains(pageSize) else { throw ValidationError("--page-size must be 1-500") }
    }

    func run() async throws {
        let (clients, next) = try await global.withClient { client, _ in
            var clients: [Client] = []
            var token = pageToken
            repeat {
                let page = try await client.call(
                    AdminMethods.listClients, ListClientsRequest(pageSize: pageSize, pageToken: token))
                clients += page.clients
                token = page.nextPageToken
            } while all && !token.isEmpty
            return (clients, token)
        }
        print(Rendering.clients(clients))
        if !next.isEmpty { print("More: --page-token \(next)") }
    }
}

struct ClientGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show one client.")

    @Argument(help: "The client id.") var id: Int64
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("the client id must be positive") }
    }

    func run() async throws {
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.getClient, GetClientRequest(clientId: id))
        }
        print(Rendering.client(answer.client ?? Client()))
    }
}

struct ClientUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change a client's name or contact details.")

    @Argument(help: "The client id.") var id: Int64
    @Option(help: "New name.") var name: String?
    @Option(help: "New e-mail address (\"\" clears it).") var email: String?
    @Option(help: "New phone number (\"\" clears it).") var phone: String?
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("the client id must be positive") }
        guard name != nil || email != nil || phone != nil else {
            throw ValidationError("nothing to change: give --name, --email or --phone")
        }
    }

    func run() async throws {
        let request = UpdateClientRequest(clientId: id, name: name, email: email, phone: phone)
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.updateClient, request)
        }
        print("Updated client:")
        print(Rendering.client(answer.client ?? Client()))
    }
}

struct ClientCreateLoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-login",
        abstract: "Give a client a portal login.",
        discussion: """
            The password is never taken on the command line (other users could read it): it is \
            read from --password-file, from standard input with --password-stdin, or asked for \
            without echo when standard input is a terminal.
            """)

    @Argument(help: "The client id.") var id: Int64
    @Argument(help: "Username, 3-64 characters of a-z, A-Z, 0-9, '.', '_', '-', '@'.") var username: String
    @Option(help: "Read the password from this file (first line).") var passwordFile: String?
    @Flag(help: "Read the password from standard input (first line).") var passwordStdin = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("the client id must be positive") }
        guard !(passwordFile != nil && passwordStdin) else {
            throw ValidationError("give --password-file or --password-stdin, not both")
        }
    }

    func run() async throws {
        let password = try readPassword()
        guard (8...256).contains(password.utf8.count) else {
            throw UsageFailure("the password must be 8-256 bytes")
        }
        let request = CreatePortalLoginRequest(clientId: id, username: username, password: password)
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.createPortalLogin, request)
        }
        print("Created portal login:")
        print(Rendering.client(answer.client ?? Client()))
    }

    private func readPassword() throws -> String {
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw UsageFailure("cannot read the password file \(passwordFile)")
            }
            return Self.firstLine(text)
        }
        if passwordStdin || isatty(STDIN_FILENO) == 0 {
            return Self.firstLine(readLine(strippingNewline: true) ?? "")
        }
        guard let first = getpass("Password: ").map({ String(cString: $0) }),
            let second = getpass("Repeat password: ").map({ String(cString: $0) })
        else { throw UsageFailure("no password given") }
        guard first == second else { throw UsageFailure("the passwords do not match") }
        return first
    }

    static func firstLine(_ text: String) -> String {
        // "\r\n" is one Character in Swift; isNewline covers it and "\n".
        String(text.split(maxSplits: 1, omittingEmptySubsequences: false, whereSeparator: \.isNewline).first ?? "")
    }
}

/// The client ids of a bulk command.
struct ClientIDsArgument: ParsableArguments {
    @Argument(help: "One or more client ids (at most 1000).") var ids: [Int64]

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("give at least one client id") }
        guard ids.count <= 1000 else { throw ValidationError("at most 1000 client ids at once") }
        guard ids.allSatisfy({ $0 > 0 }) else { throw ValidationError("client ids must be positive") }
    }
}

/// Prints one line per client and fails (exit status 1) unless all were done.
func reportOutcomes(_ results: [ClientActionResult], action: String) throws {
    print(Rendering.outcomes(results, action: action))
    if results.contains(where: { $0.outcome != .done }) { throw ExitCode(1) }
}

struct ClientDisableLoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable-login",
        abstract: "Disable clients' portal logins: no login, open sessions stop at once; the accounts stay.")

    @OptionGroup var clients: ClientIDsArgument
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.disablePortalLogin, DisablePortalLoginRequest(clientIds: clients.ids))
        }
        try reportOutcomes(answer.results, action: "login disabled")
    }
}

struct ClientEnableLoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable-login", abstract: "Enable clients' portal logins again.")

    @OptionGroup var clients: ClientIDsArgument
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.enablePortalLogin, EnablePortalLoginRequest(clientIds: clients.ids))
        }
        try reportOutcomes(answer.results, action: "login enabled")
    }
}

struct ClientRemoveLoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-login",
        abstract: "Unlink clients' portal logins (ending their sessions); optionally delete the users.")

    @OptionGroup var clients: ClientIDsArgument
    @Flag(help: "Also delete the portal users (frees their usernames).") var deleteUser = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let request = RemovePortalLoginRequest(clientIds: clients.ids, deleteUser: deleteUser)
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.removePortalLogin, request)
        }
        try reportOutcomes(answer.results, action: deleteUser ? "login removed, user deleted" : "login removed")
    }
}

struct ClientSetRescheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-reschedule", abstract: "Allow (on) or forbid (off) clients to move their own bookings.")

    enum Switch: String, ExpressibleByArgument, CaseIterable {
        case on, off
    }

    @Argument(help: "on or off.") var value: Switch
    @OptionGroup var clients: ClientIDsArgument
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let request = SetCanSelfRescheduleRequest(clientIds: clients.ids, canSelfReschedule: value == .on)
        let answer = try await global.withClient { client, _ in
            try await client.call(AdminMethods.setCanSelfReschedule, request)
        }
        try reportOutcomes(answer.results, action: "reschedule \(value.rawValue)")
    }
}

extension Rendering {
    /// Clients as a table: id, name, contact, login state and username,
    /// whether they may reschedule.
    ///
    /// ```
    /// Client  Name  E-mail           Phone  Login     Username  Reschedule
    /// #1      Ada   ada@example.com  0123   active    ada       yes
    /// #2      Bob                           none                no
    /// ```
    static func clients(_ clients: [Client]) -> String {
        guard !clients.isEmpty else { return "No clients." }
        var table = TextTable(header: ["Client", "Name", "E-mail", "Phone", "Login", "Username", "Reschedule"])
        for client in clients {
            table.rows.append([
                "#\(client.clientId)", client.name, client.email, client.phone,
                loginState(client.loginState), client.username, client.canSelfReschedule ? "yes" : "no",
            ])
        }
        return table.render()
    }

    /// One client, one field per line.
    static func client(_ client: Client) -> String {
        var table = TextTable(header: ["Client", "#\(client.clientId)"])
        table.rows = [
            ["Name", client.name],
            ["E-mail", client.email],
            ["Phone", client.phone],
            ["Login", loginState(client.loginState) + (client.username.isEmpty ? "" : " (\(client.username))")],
            ["Reschedule", client.canSelfReschedule ? "yes" : "no"],
        ]
        return table.render()
    }

    /// One line per client of a bulk action, in request order.
    static func outcomes(_ results: [ClientActionResult], action: String) -> String {
        var table = TextTable(header: ["Client", "Outcome"])
        for result in results {
            let outcome: String =
                switch result.outcome {
                case .done: "done (\(action))"
                case .notFound: "not found"
                case .noLogin: "no login"
                case .unspecified, .unrecognized: "unknown"
                }
            table.rows.append(["#\(result.clientId)", outcome])
        }
        return table.render()
    }

    static func loginState(_ state: PortalLoginState) -> String {
        switch state {
        case .none: "none"
        case .active: "active"
        case .disabled: "disabled"
        case .unspecified, .unrecognized: "unknown"
        }
    }
}
