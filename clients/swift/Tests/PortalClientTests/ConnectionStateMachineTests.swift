@testable import PortalClient
import PortalMessages
import PortalWire
import Testing

/// The connection's bookkeeping, without sockets: waiters are strings and
/// timers are ints.
@Suite("ConnectionStateMachine")
struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine<String, Int>

    static func ok(_ id: UInt64, _ payload: [UInt8] = [1]) -> ResponseEnvelope {
        ResponseEnvelope(id: id, status: Status(code: 0), payload: payload)
    }

    static func frame(id: UInt64, _ error: RPCError) -> ResponseEnvelope {
        ResponseEnvelope(id: id, status: Status(error), payload: [])
    }

    @Test("Ids start at 1 and only grow")
    func ids() {
        var machine = Machine()
        #expect(machine.makeRequest() == 1)
        #expect(machine.makeRequest() == 2)
        #expect(machine.makeRequest() == 3)
    }

    @Test("Answers are matched by id in any order, and cancel their timers")
    func outOfOrder() throws {
        var machine = Machine()
        let a = machine.makeRequest()!
        let b = machine.makeRequest()!
        #expect(machine.setTimer(10, for: a) == nil)
        #expect(machine.setTimer(20, for: b) == nil)
        #expect(machine.attach("A", to: a) == nil)
        #expect(machine.attach("B", to: b) == nil)

        let first = machine.receive(Self.ok(b, [2]))
        #expect(first.resolutions.count == 1)
        #expect(first.resolutions[0].waiter == "B")
        #expect(first.resolutions[0].timer == 20)
        #expect(try first.resolutions[0].outcome.get().payload == [2])

        let second = machine.receive(Self.ok(a, [1]))
        #expect(second.resolutions[0].waiter == "A")
        #expect(second.resolutions[0].timer == 10)
        #expect(machine.unresolvedCount == 0)
    }

    @Test("An answer that arrives before the waiter is kept for it")
    func earlyAnswer() throws {
        var machine = Machine()
        let id = machine.makeRequest()!
        let effects = machine.receive(Self.ok(id, [7]))
        #expect(effects.resolutions.count == 1)
        #expect(effects.resolutions[0].waiter == nil)
        let outcome = machine.attach("late waiter", to: id)!
        #expect(try outcome.get().payload == [7])
        // Nothing left behind: a second answer for the id is dropped.
        #expect(machine.receive(Self.ok(id)).resolutions.isEmpty)
    }

    @Test("A timer set after the call was resolved is handed back to be cancelled")
    func timerAfterResolution() throws {
        var machine = Machine()
        let id = machine.makeRequest()!
        _ = machine.receive(Self.ok(id))
        #expect(machine.setTimer(5, for: id) == 5)
    }

    @Test("After a deadline the late answer is dropped")
    func lateAnswerDropped() throws {
        var machine = Machine()
        let id = machine.makeRequest()!
        #expect(machine.attach("W", to: id) == nil)
        let timeout = machine.fail(id, with: .deadlineExceeded(.seconds(1)))
        #expect(timeout.resolutions.first?.waiter == "W")
        #expect(throws: RPCError.self) { try timeout.resolutions.first?.outcome.get() }
        #expect(machine.receive(Self.ok(id)).resolutions.isEmpty)
    }

    @Test("A non-OK status becomes the call's RPCError")
    func errorStatus() throws {
        var machine = Machine()
        let id = machine.makeRequest()!
        _ = machine.attach("W", to: id)
        let effects = machine.receive(
            Self.frame(id: id, RPCError(code: .notFound, reason: "BLOCK_NOT_FOUND", message: "No block 9.")))
        guard case .failure(let error) = effects.resolutions.first?.outcome else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .notFound)
        #expect(error.reason == "BLOCK_NOT_FOUND")
        #expect(machine.phase == .active)
    }

    @Test("Go-away drains: no new calls, in-flight calls complete, then it closes")
    func goAway() throws {
        var machine = Machine()
        let id = machine.makeRequest()!
        _ = machine.attach("W", to: id)
        let goAway = machine.receive(
            Self.frame(id: 0, RPCError(code: .unavailable, reason: .goAway, message: "Draining.")))
        #expect(goAway.resolutions.isEmpty)
        #expect(!goAway.closeConnection)
        #expect(machine.phase == .draining)
        #expect(machine.makeRequest() == nil)

        let answer = machine.receive(Self.ok(id))
        #expect(answer.resolutions.first?.waiter == "W")
        #expect(answer.closeConnection)
    }

    @Test("Go-away with nothing in flight closes at once")
    func goAwayIdle() {
        var machine = Machine()
        let effects = machine.receive(
            Self.frame(id: 0, RPCError(code: .unavailable, reason: .goAway, message: "Draining.")))
        #expect(effects.closeConnection)
    }

    @Test("An UNAVAILABLE / SHUTTING_DOWN answer starts draining")
    func shuttingDownDrains() throws {
        var machine = Machine()
        let id = machine.makeRequest()!
        _ = machine.attach("W", to: id)
        let effects = machine.receive(
            Self.frame(id: id, RPCError(code: .unavailable, reason: .shuttingDown, message: "Draining.")))
        #expect(effects.resolutions.count == 1)
        #expect(machine.phase == .draining)
        #expect(effects.closeConnection)
    }

    @Test("A fatal frame with id 0 fails every call in flight with its error and closes")
    func fatalFrame() throws {
        var machine = Machine()
        let a = machine.makeRequest()!
        let b = machine.makeRequest()!
        _ = machine.attach("A", to: a)
        let effects = machine.receive(
            Self.frame(id: 0, RPCError(code: .resourceExhausted, reason: .frameTooLarge, message: "Too large.")))
        #expect(effects.closeConnection)
        #expect(effects.resolutions.count == 2)
        for resolution in effects.resolutions {
            guard case .failure(let error) = resolution.outcome else {
                Issue.record("expected a failure")
                continue
            }
            #expect(error.reason == .frameTooLarge)
        }
        #expect(machine.phase == .closed)
        // B's waiter arrives later and collects the failure at once.
        let outcome = machine.attach("B", to: b)!
        #expect(throws: RPCError.self) { try outcome.get() }
    }

    @Test("Closing fails what is in flight with UNAVAILABLE / CONNECTION_LOST")
    func connectionLost() throws {
        var machine = Machine()
        let id = machine.makeRequest()!
        _ = machine.attach("W", to: id)
        let effects = machine.connectionClosed()
        #expect(!effects.closeConnection)
        guard case .failure(let error) = effects.resolutions.first?.outcome else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .unavailable)
        #expect(error.reason == .connectionLost)
        #expect(machine.makeRequest() == nil)
    }
}
