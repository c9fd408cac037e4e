import Foundation
import LocalStripeHarness
import NIOCore
import NIOPosix
import PortalClient
import PortalMessages
import PortalStore
import PortalStripe
import PortalWire
import XCTest

/// A crash at the worst moment loses nothing: the real `portald` binary kills
/// itself (SIGKILL, through the test-only `PORTAL_FAULT_INJECTION`) right
/// after a booking's transaction commits and before its capture is tried;
/// after a restart on the same database the capture happens, exactly once.
final class CheckoutCrashTests: XCTestCase {
    private static let adminKey = "crash-test-admin-key-0123456789"

    func testAKillBetweenTheBookingsCommitAndTheCaptureIsRepairedAtRestartWithExactlyOneCapture() async throws {
        let stripe = try LocalStripe.sharedOrSkip()
        try await stripe.reset()
        // 1. A portald that will die right after the booking commits.
        let crashed = try await finalizeUntilPortaldDies(of: "crash-after-booking-commit", stripe: stripe)
        defer { try? FileManager.default.removeItem(at: crashed.directory) }
        let (databasePath, started) = (crashed.databasePath, crashed.started)

        // 2. What the crash left: a committed booking, a capture queued —
        //    claimed for the dead request's first attempt (one attempt
        //    counted, under its lease), never carried out — and money only
        //    authorised.
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM bookings WHERE payment_state = 'capture_pending'"), 1)
        XCTAssertEqual(
            try count(
                databasePath,
                "SELECT count(*) FROM outbox WHERE kind = 'capture' AND done_at IS NULL AND attempts = 1 AND next_attempt_at > unixepoch()"),
            1)
        await assertEqual(try await stripe.makeClient().retrievePaymentIntent(id: started.paymentIntentId).status, .requiresCapture)

        // 3. Restart on the same database, without the fault: start-up repair captures.
        let restarted = try await restartUntilRepaired(crashed)
        defer { restarted.kill() }
        await assertEqual(try await stripe.makeClient().retrievePaymentIntent(id: started.paymentIntentId).status, .succeeded)
        XCTAssertEqual(
            try count(databasePath, "SELECT count(*) FROM outbox WHERE kind = 'capture' AND done_at IS NOT NULL AND attempts = 2"), 1)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM outbox"), 1)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM audit_log WHERE event = 'payment.captured'"), 1)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM bookings WHERE payment_state = 'captured'"), 1)
        XCTAssertTrue(crashed.log.contains("FAULT INJECTION IS ON"), crashed.log)
        XCTAssertTrue(restarted.log.contains("Repairing payment calls left by an earlier run"), restarted.log)

        // 4. The client asks again (a new session: the old one was on the dead
        //    process's connection, its token is still valid in the database).
        let booking = try await finalizeAgain(crashed, on: restarted)
        XCTAssertEqual(booking?.clientId, crashed.clientID)
        XCTAssertEqual(booking?.paymentState, .captured)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM bookings"), 1)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM audit_log WHERE event = 'payment.captured'"), 1)

        // 5. SIGTERM drains and exits cleanly, though the test spawned it from
        //    a thread whose mask blocks SIGTERM (inherited by the child).
        XCTAssertTrue(restarted.terminate(), "portald should exit on SIGTERM")
        XCTAssertEqual(restarted.process.terminationReason, .exit)
        XCTAssertEqual(restarted.process.terminationStatus, 0)
        XCTAssertFalse(restarted.log.contains(started.clientSecret), "the client secret must never be logged")
        XCTAssertFalse(crashed.log.contains(started.clientSecret), "the client secret must never be logged")
        XCTAssertFalse(restarted.log.contains(LocalStripe.secretKeyValue), "the Stripe key must never be logged")
    }

    /// FinalizeCheckout answers once the provider has captured and records
    /// the capture in the background: a kill right after the capture, before
    /// it is recorded, leaves the capture row claimed and the booking
    /// `capture_pending` while the money is captured; start-up repair asks
    /// again with the same key, finds it done and records it — once.
    func testAKillAfterTheCaptureBeforeItIsRecordedIsRecordedAtRestartOnce() async throws {
        let stripe = try LocalStripe.sharedOrSkip()
        try await stripe.reset()
        let crashed = try await finalizeUntilPortaldDies(of: "crash-after-capture", stripe: stripe)
        defer { try? FileManager.default.removeItem(at: crashed.directory) }
        let (databasePath, started) = (crashed.databasePath, crashed.started)

        // Captured at the provider, not recorded here.
        await assertEqual(try await stripe.makeClient().retrievePaymentIntent(id: started.paymentIntentId).status, .succeeded)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM bookings WHERE payment_state = 'capture_pending'"), 1)
        XCTAssertEqual(
            try count(databasePath, "SELECT count(*) FROM outbox WHERE kind = 'capture' AND done_at IS NULL AND attempts = 1"), 1)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM audit_log WHERE event = 'payment.captured'"), 0)

        let restarted = try await restartUntilRepaired(crashed)
        defer { restarted.kill() }
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM outbox WHERE kind = 'capture' AND done_at IS NOT NULL"), 1)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM audit_log WHERE event = 'payment.captured'"), 1)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM bookings WHERE payment_state = 'captured'"), 1)

        let booking = try await finalizeAgain(crashed, on: restarted)
        XCTAssertEqual(booking?.clientId, crashed.clientID)
        XCTAssertEqual(booking?.paymentState, .captured)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM bookings"), 1)
        XCTAssertTrue(restarted.terminate(), "portald should exit on SIGTERM")
    }

    /// A `StartCheckout` that took its hold first — five slots are fewer
    /// than the uncontested path's margin — and died after creating its
    /// PaymentIntent, before attaching it to the hold, left a slot held and
    /// an open PaymentIntent nobody was shown. Start-up repair frees the slot
    /// and cancels that PaymentIntent, found at the provider by the hold its
    /// metadata names.
    func testAKillBetweenAHoldsPaymentIntentAndItsAttachmentIsRepairedAtRestart() async throws {
        let stripe = try LocalStripe.sharedOrSkip()
        try await stripe.reset()
        let (doomed, orphan) = try await startCheckoutUntilPortaldDies(of: "crash-before-attaching-payment", stripe: stripe)
        defer { try? FileManager.default.removeItem(at: doomed.directory) }
        let databasePath = doomed.databasePath
        let provider = stripe.makeClient()

        // What the crash left: the slot held by a hold without a
        // PaymentIntent, and an open PaymentIntent at the provider naming it.
        let token = try XCTUnwrap(orphan.metadata["portal_hold_token"])
        XCTAssertEqual(
            try count(
                databasePath,
                "SELECT count(*) FROM holds WHERE token = '\(token)' AND state = 'active' AND payment_intent_id IS NULL"),
            1)

        // Restart on the same database, without the fault.
        let restarted = try await restartUntilRepaired(
            directory: doomed.directory, databasePath: databasePath, arguments: doomed.arguments)
        defer { restarted.kill() }
        try await assertCancelledOnce(orphan, by: restarted, provider: provider, databasePath: databasePath)
        XCTAssertEqual(
            try count(
                databasePath, "SELECT count(*) FROM holds WHERE state = 'cancelled' AND end_reason = 'interrupted'"),
            1, "the slot is free again")
        await assertEqual(try await provider.paymentIntents(createdSince: 0, limit: 100).count, 1)
        XCTAssertTrue(restarted.log.contains("Released holds left mid-checkout by an earlier run"), restarted.log)
        XCTAssertTrue(restarted.terminate(), "portald should exit on SIGTERM")
    }

    /// A `StartCheckout` on an uncontested block — twenty free slots, more
    /// than the margin — creates its PaymentIntent before its hold, and one
    /// that died in between left an open PaymentIntent that no row names.
    /// Start-up repair finds it at the provider by this database's id and an
    /// earlier run's in its metadata, and cancels it; another deployment's
    /// PaymentIntent on the same account, alike but for the store id, stays
    /// open.
    func testAKillBetweenAPaymentIntentAndItsHoldsWriteIsRepairedAtRestart() async throws {
        let stripe = try LocalStripe.sharedOrSkip()
        try await stripe.reset()
        let (doomed, orphan) = try await startCheckoutUntilPortaldDies(
            of: "crash-before-writing-paid-hold", stripe: stripe, capacity: 20)
        defer { try? FileManager.default.removeItem(at: doomed.directory) }
        let databasePath = doomed.databasePath
        let provider = stripe.makeClient()

        // What the crash left: an open PaymentIntent, and no hold at all.
        let storeID = try XCTUnwrap(orphan.metadata["portal_store_id"])
        XCTAssertEqual(storeID.count, 32)
        XCTAssertNotNil(orphan.metadata["portal_run_id"])
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM holds"), 0, "no row names the PaymentIntent")
        // Another deployment on the same provider account.
        var elsewhere = orphan.metadata
        elsewhere["portal_store_id"] = String(repeating: "0", count: 32)
        let foreign = try await provider.createPaymentIntent(
            amountCents: 1500, currency: "gbp", metadata: elsewhere, idempotencyKey: "elsewhere-\(UUID().uuidString)")

        let restarted = try await restartUntilRepaired(
            directory: doomed.directory, databasePath: databasePath, arguments: doomed.arguments)
        defer { restarted.kill() }
        try await assertCancelledOnce(orphan, by: restarted, provider: provider, databasePath: databasePath)
        await assertEqual(try await provider.retrievePaymentIntent(id: foreign.id).status, .requiresPaymentMethod)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM holds"), 0)
        XCTAssertTrue(restarted.terminate(), "portald should exit on SIGTERM")
    }

    /// `orphan` is cancelled at the provider, through the one outbox row the
    /// database has (done, audited as queued), and `restarted` logged it.
    private func assertCancelledOnce(
        _ orphan: PaymentIntent, by restarted: PortaldProcess, provider: StripeClient, databasePath: String,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        await assertEqual(
            try await provider.retrievePaymentIntent(id: orphan.id).status, .canceled, file: file, line: line)
        XCTAssertEqual(
            try count(
                databasePath,
                "SELECT count(*) FROM outbox WHERE kind = 'cancel' AND payment_intent_id = '\(orphan.id)' AND done_at IS NOT NULL"),
            1, file: file, line: line)
        XCTAssertEqual(try count(databasePath, "SELECT count(*) FROM outbox"), 1, file: file, line: line)
        XCTAssertEqual(
            try count(
                databasePath,
                "SELECT count(*) FROM audit_log WHERE entity = 'payment' AND entity_id = '\(orphan.id)' AND event = 'payment.cancel_queued'"),
            1, file: file, line: line)
        XCTAssertTrue(
            restarted.log.contains("Cancelled the PaymentIntents unfinished checkouts of an earlier run left"),
            restarted.log, file: file, line: line)
    }

    // MARK: Helpers

    /// What a portald that killed itself during FinalizeCheckout left.
    private struct Crashed {
        let directory: URL
        let databasePath: String
        /// The dead portald's arguments, to restart it on the same database.
        let arguments: [String]
        let clientID: Int64
        /// The client's session, still valid in the database.
        let authorization: Credentials?
        let started: StartCheckoutResponse
        /// The dead portald's log.
        let log: String
    }

    /// A portald started with a fault on a fresh database (in `directory`,
    /// which the caller removes), with a block seeded and a client signed up.
    private struct Doomed {
        let directory: URL
        let databasePath: String
        /// Its arguments, to restart on the same database.
        let arguments: [String]
        let process: PortaldProcess
        let admin: PortalClient
        let blockID: Int64
        let clientID: Int64
        /// The client's portal session.
        let session: PortalClient
    }

    /// Starts a portald with `fault`, seeds a block (`capacity` walk slots)
    /// and signs a client up.
    private func startPortaldThatWillDie(of fault: String, stripe: LocalStripe, capacity: Int32 = 5) async throws
        -> Doomed
    {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portal-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let databasePath = directory.appendingPathComponent("portal.sqlite").path
        let arguments = [
            "--db", databasePath, "--admin-key", Self.adminKey, "--stripe-api-key", LocalStripe.secretKeyValue,
            "--stripe-api-base", stripe.baseURL, "--log-level", "info",
        ]
        let eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        let process = try PortaldProcess.start(
            arguments: arguments, environment: ["PORTAL_FAULT_INJECTION": fault],
            logURL: directory.appendingPathComponent("first.log"))
        do {
            let admin = client(port: process.port, token: Self.adminKey, group: eventLoopGroup)
            let blockID = try await seed(admin, date: Self.dateAWeekAhead(), capacity: capacity)
            let (clientID, session) = try await signUp(admin, port: process.port, group: eventLoopGroup)
            return Doomed(
                directory: directory, databasePath: databasePath, arguments: arguments, process: process,
                admin: admin, blockID: blockID, clientID: clientID, session: session)
        } catch {
            process.kill()
            throw error
        }
    }

    /// Runs `lastCall`, which must make `doomed` kill itself (SIGKILL)
    /// before it answers, checks that it did, and closes its clients.
    private func expectDeath(of doomed: Doomed, during lastCall: () async throws(RPCError) -> Void) async {
        do {
            try await lastCall()
            XCTFail("the server should have died before answering")
        } catch {
            XCTAssertEqual(error.code, .unavailable, "\(error)")
        }
        XCTAssertTrue(doomed.process.waitForExit(), "portald should have killed itself")
        XCTAssertEqual(doomed.process.process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(doomed.process.process.terminationStatus, SIGKILL)
        await doomed.admin.shutdown()
        await doomed.session.shutdown()
    }

    /// Starts a portald with `fault` (a block of `capacity` walk slots) and
    /// a checkout on it, which must make it kill itself (SIGKILL) before it
    /// answers; returns it with the one PaymentIntent the dead call left at
    /// the provider — open, naming the client.
    private func startCheckoutUntilPortaldDies(of fault: String, stripe: LocalStripe, capacity: Int32 = 5)
        async throws -> (doomed: Doomed, orphan: PaymentIntent)
    {
        let doomed = try await startPortaldThatWillDie(of: fault, stripe: stripe, capacity: capacity)
        do {
            await expectDeath(of: doomed) { () async throws(RPCError) in
                _ = try await doomed.session.call(
                    PortalMethods.startCheckout,
                    StartCheckoutRequest(serviceCode: "walk", blockId: doomed.blockID, expectedPriceCents: 1500))
            }
            let listed = try await stripe.makeClient().paymentIntents(createdSince: 0, limit: 100)
            XCTAssertEqual(listed.count, 1)
            let orphan = try XCTUnwrap(listed.first)
            XCTAssertEqual(orphan.status, .requiresPaymentMethod)
            XCTAssertEqual(orphan.metadata["portal_client_id"], String(doomed.clientID))
            return (doomed, orphan)
        } catch {
            doomed.process.kill()
            try? FileManager.default.removeItem(at: doomed.directory)
            throw error
        }
    }

    /// Starts a portald with `fault`, seeds a block, signs a client up,
    /// starts a checkout, pays as the browser would and finalizes — and
    /// checks that portald killed itself (SIGKILL) before answering.
    private func finalizeUntilPortaldDies(of fault: String, stripe: LocalStripe) async throws -> Crashed {
        let doomed = try await startPortaldThatWillDie(of: fault, stripe: stripe)
        defer { doomed.process.kill() }
        let started = try await doomed.session.call(
            PortalMethods.startCheckout,
            StartCheckoutRequest(serviceCode: "walk", blockId: doomed.blockID, expectedPriceCents: 1500))
        try await stripe.payAsBrowser(paymentIntentID: started.paymentIntentId)
        await expectDeath(of: doomed) { () async throws(RPCError) in
            _ = try await doomed.session.call(
                PortalMethods.finalizeCheckout,
                FinalizeCheckoutRequest(holdToken: started.holdToken, paymentIntentId: started.paymentIntentId))
        }
        return Crashed(
            directory: doomed.directory, databasePath: doomed.databasePath, arguments: doomed.arguments,
            clientID: doomed.clientID, authorization: doomed.session.configuration.authorization,
            started: started, log: doomed.process.log)
    }

    /// Starts portald again on the crashed one's database, without the
    /// fault, and waits (up to 30 s) until start-up repair has finished an
    /// outbox row.
    private func restartUntilRepaired(_ crashed: Crashed) async throws -> PortaldProcess {
        try await restartUntilRepaired(
            directory: crashed.directory, databasePath: crashed.databasePath, arguments: crashed.arguments)
    }

    private func restartUntilRepaired(directory: URL, databasePath: String, arguments: [String]) async throws
        -> PortaldProcess
    {
        let restarted = try PortaldProcess.start(
            arguments: arguments, logURL: directory.appendingPathComponent("second.log"))
        let deadline = ContinuousClock.now + .seconds(30)
        while try count(databasePath, "SELECT count(*) FROM outbox WHERE done_at IS NOT NULL") == 0,
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(100))
        }
        return restarted
    }

    /// The crashed checkout's client finalizes again on `restarted` (a new
    /// connection: the old one died with its process; the session token is
    /// still valid in the database).
    private func finalizeAgain(_ crashed: Crashed, on restarted: PortaldProcess) async throws -> Booking? {
        let again = client(port: restarted.port, token: crashed.authorization, group: MultiThreadedEventLoopGroup.singleton)
        do {
            let answer = try await again.call(
                PortalMethods.finalizeCheckout,
                FinalizeCheckoutRequest(holdToken: crashed.started.holdToken, paymentIntentId: crashed.started.paymentIntentId))
            await again.shutdown()
            return answer.booking
        } catch {
            await again.shutdown()
            throw error
        }
    }

    /// Start-up repair takes over what an earlier run left, leases
    /// notwithstanding — right only if that run is gone. A second portald on
    /// the same database is refused before it repairs or serves anything.
    func testASecondPortaldOnTheSameDatabaseIsRefusedAndTheFirstServesOn() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portal-second-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["--db", directory.appendingPathComponent("portal.sqlite").path, "--admin-key", Self.adminKey]
        let first = try PortaldProcess.start(arguments: arguments, logURL: directory.appendingPathComponent("first.log"))
        defer { first.kill() }

        do {
            let second = try PortaldProcess.start(
                arguments: arguments, logURL: directory.appendingPathComponent("second.log"))
            second.kill()
            XCTFail("a second portald started on the same database")
        } catch let failure as PortaldFailure {
            XCTAssertTrue(failure.description.contains("DATABASE_IN_USE"), failure.description)
        }

        let admin = client(port: first.port, token: Self.adminKey, group: MultiThreadedEventLoopGroup.singleton)
        let health = try await admin.call(HealthMethods.check, HealthCheckRequest())
        XCTAssertEqual(health.status, .serving)
        await admin.shutdown()
        XCTAssertTrue(first.terminate())
        // Once the first has stopped, the database opens again.
        let next = try PortaldProcess.start(arguments: arguments, logURL: directory.appendingPathComponent("next.log"))
        XCTAssertTrue(next.terminate())
    }

    private func client(port: Int, token: String, group: any EventLoopGroup) -> PortalClient {
        client(port: port, token: Credentials.bearer(token), group: group)
    }

    private func client(port: Int, token: Credentials?, group: any EventLoopGroup) -> PortalClient {
        var configuration = PortalClient.Configuration.defaults
        configuration.authorization = token
        configuration.defaultTimeout = .seconds(30)
        configuration.retryPolicy = .none
        return PortalClient(host: "127.0.0.1", port: port, configuration: configuration, eventLoopGroup: group)
    }

    private func seed(_ admin: PortalClient, date: String, capacity: Int32 = 5) async throws -> Int64 {
        _ = try await admin.call(
            AdminMethods.upsertService,
            UpsertServiceRequest(
                service: ServiceDefaults(serviceCode: "walk", durationMinutes: 60, priceCents: 1500, currency: "gbp", notes: "")))
        let block = try await admin.call(
            AdminMethods.createBlock, CreateBlockRequest(date: date, startTime: "09:00", endTime: "12:00", label: "Morning Run"))
        let blockID = try XCTUnwrap(block.block?.blockId)
        _ = try await admin.call(
            AdminMethods.setCapacity, SetCapacityRequest(blockId: blockID, serviceCode: "walk", capacity: capacity, allowOverlap: false))
        return blockID
    }

    private func signUp(_ admin: PortalClient, port: Int, group: any EventLoopGroup) async throws
        -> (Int64, PortalClient)
    {
        let created = try await admin.call(
            AdminMethods.createClient, CreateClientRequest(name: "Crash Test Dummy", email: "", phone: "", canSelfReschedule: false))
        let clientID = try XCTUnwrap(created.client?.clientId)
        _ = try await admin.call(
            AdminMethods.createPortalLogin,
            CreatePortalLoginRequest(clientId: clientID, username: "dummy", password: "correct horse battery"))
        let login = try await admin.call(
            PortalMethods.login, LoginRequest(username: "dummy", password: "correct horse battery"), credentials: .anonymous)
        return (clientID, client(port: port, token: login.sessionToken, group: group))
    }

    /// A date a week from today in the business's zone: the real clock runs here.
    private static func dateAWeekAhead() -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/London")!
        let day = calendar.date(byAdding: .day, value: 7, to: Date())!
        let parts = calendar.dateComponents([.year, .month, .day], from: day)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    private func count(_ path: String, _ sql: String) throws -> Int {
        let db = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 5000)
        defer { db.close() }
        return Int(try db.integer(sql) ?? 0)
    }
}
