import ArgumentParser
import PortalMessages
import PortalWire
import Testing

@testable import portalctl

@Suite("portalctl client")
struct PortalCtlClientTests {
    @Test("Bulk commands take several ids; set-reschedule takes on|off first")
    func bulkParsing() throws {
        let disable = try #require(
            try PortalCtl.parseAsRoot(["client", "disable-login", "3", "1", "2"]) as? ClientDisableLoginCommand)
        #expect(disable.clients.ids == [3, 1, 2])
        let remove = try #require(
            try PortalCtl.parseAsRoot(["client", "remove-login", "5", "6", "--delete-user"]) as? ClientRemoveLoginCommand)
        #expect(remove.clients.ids == [5, 6])
        #expect(remove.deleteUser)
        let keep = try #require(try PortalCtl.parseAsRoot(["client", "remove-login", "5"]) as? ClientRemoveLoginCommand)
        #expect(!keep.deleteUser)
        let on = try #require(
            try PortalCtl.parseAsRoot(["client", "set-reschedule", "on", "7", "8"]) as? ClientSetRescheduleCommand)
        #expect(on.value == .on)
        #expect(on.clients.ids == [7, 8])
        let off = try #require(
            try PortalCtl.parseAsRoot(["client", "set-reschedule", "off", "7"]) as? ClientSetRescheduleCommand)
        #expect(off.value == .off)
    }

    @Test("Client commands parse their options")
    func clientParsing() throws {
        let create = try #require(
            try PortalCtl.parseAsRoot(["client", "create", "Ada Lovelace", "--email", "ada@example.com", "--reschedule"])
                as? ClientCreateCommand)
        #expect(create.name == "Ada Lovelace")
        #expect(create.email == "ada@example.com")
        #expect(create.reschedule)
        let update = try #require(
            try PortalCtl.parseAsRoot(["client", "update", "4", "--email", ""]) as? ClientUpdateCommand)
        #expect(update.email == "")
        #expect(update.name == nil)
        let login = try #require(
            try PortalCtl.parseAsRoot(["client", "create-login", "4", "ada", "--password-stdin"]) as? ClientCreateLoginCommand)
        #expect(login.username == "ada")
        #expect(login.passwordStdin)
        let list = try #require(try PortalCtl.parseAsRoot(["client", "list", "--all"]) as? ClientListCommand)
        #expect(list.all)
        #expect(list.pageSize == 50)
    }

    @Test("Mistakes are usage errors (exit status 2)")
    func usageErrors() {
        let invalid: [[String]] = [
            ["client", "disable-login"],
            ["client", "disable-login", "0"],
            ["client", "enable-login", "-3"],
            ["client", "set-reschedule", "maybe", "1"],
            ["client", "set-reschedule", "on"],
            ["client", "update", "4"],
            ["client", "get", "0"],
            ["client", "create", " "],
            ["client", "list", "--page-size", "501"],
            ["client", "create-login", "4", "ada", "--password-stdin", "--password-file", "p"],
            ["client", "create-login", "4", "ada", "--password", "secret"],
            ["client", "disable-login"] + Array(repeating: "1", count: 1001),
        ]
        for arguments in invalid {
            do {
                _ = try PortalCtl.parseAsRoot(arguments)
                Issue.record("accepted \(arguments.prefix(6))")
            } catch {
                #expect(PortalCtl.outcome(of: error).status == 2, "\(arguments.prefix(6))")
            }
        }
    }

    @Test("The list shows login state, username and the reschedule flag")
    func listRendering() {
        let clients = [
            Client(
                clientId: 1, name: "Ada", email: "ada@example.com", phone: "0123", canSelfReschedule: true,
                loginState: .active, username: "ada"),
            Client(clientId: 2, name: "Bob", loginState: .none),
            Client(clientId: 3, name: "Cy", loginState: .disabled, username: "cy"),
        ]
        #expect(
            Rendering.clients(clients) == """
                Client  Name  E-mail           Phone  Login     Username  Reschedule
                #1      Ada   ada@example.com  0123   active    ada       yes
                #2      Bob                           none                no
                #3      Cy                            disabled  cy        no
                """)
        #expect(Rendering.clients([]) == "No clients.")
    }

    @Test("metrics shows calls, errors by code and latency per method")
    func metricsRendering() throws {
        let metrics = GetMetricsResponse(
            methods: [
                MethodMetrics(
                    method: "portal.v1.Health/Check", calls: 3, statuses: [StatusCount(code: 0, count: 3)],
                    p50Us: 40, p90Us: 56, p99Us: 56, maxUs: 60),
                MethodMetrics(
                    method: "portal.v1.Portal/StartCheckout", calls: 12,
                    statuses: [
                        StatusCount(code: 0, count: 9), StatusCount(code: 9, count: 2), StatusCount(code: 14, count: 1),
                    ],
                    p50Us: 12_000, p90Us: 28_000, p99Us: 1_200_000, maxUs: 1_234_567),
            ],
            uptimeSeconds: 90)
        #expect(
            Rendering.metrics(metrics) == """
                Calls in 90 s since the server started:
                Method                          Calls  Errors                                p50      p90      p99     Max
                portal.v1.Health/Check          3      -                                     40 µs    56 µs    56 µs   60 µs
                portal.v1.Portal/StartCheckout  12     FAILED_PRECONDITION 2, UNAVAILABLE 1  12.0 ms  28.0 ms  1.20 s  1.23 s
                """)
        #expect(Rendering.metrics(GetMetricsResponse(uptimeSeconds: 5)) == "No calls in 5 s since the server started.")
        let command = try PortalCtl.parseAsRoot(["metrics", "--server", "127.0.0.1:1"])
        #expect(command is MetricsCommand)
    }

    @Test("Bulk outcomes print one line per id in request order")
    func outcomeRendering() {
        let results = [
            ClientActionResult(clientId: 4, outcome: .done),
            ClientActionResult(clientId: 404, outcome: .notFound),
            ClientActionResult(clientId: 5, outcome: .noLogin),
        ]
        #expect(
            Rendering.outcomes(results, action: "login disabled") == """
                Client  Outcome
                #4      done (login disabled)
                #404    not found
                #5      no login
                """)
    }

    @Test("One client shows its login with the username")
    func clientRendering() {
        let text = Rendering.client(
            Client(clientId: 9, name: "Ada", loginState: .disabled, username: "ada"))
        #expect(text.contains("Login       disabled (ada)"))
        #expect(text.contains("Reschedule  no"))
    }

    @Test("A password file's first line is the password")
    func passwordFirstLine() {
        #expect(ClientCreateLoginCommand.firstLine("secret pass\nignored\n") == "secret pass")
        #expect(ClientCreateLoginCommand.firstLine("crlf pass\r\n") == "crlf pass")
        #expect(ClientCreateLoginCommand.firstLine("") == "")
    }
}
