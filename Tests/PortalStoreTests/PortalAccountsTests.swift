import Crypto
import PortalDomain
@testable import PortalStore
import XCTest

/// Portal logins and sessions against a real SQLite file, with the real
/// password KDF.
final class PortalAccountsTests: XCTestCase {
    private var fixture: StoreFixture!
    private var store: PortalStore { fixture.store }
    private var accounts: PortalAccounts!

    override func setUp() async throws {
        fixture = try await StoreFixture.make()
        accounts = try fixture.accounts()
    }

    override func tearDown() async throws {
        await fixture.tearDown()
    }

    // MARK: Creating logins

    func testCreatePortalLoginStoresOnlyASaltedSelfDescribingHash() async throws {
        let alice = try await fixture.clientWithLogin(accounts, name: "Alice", username: "alice", password: "same password")
        let bob = try await fixture.clientWithLogin(accounts, name: "Bob", username: "bob", password: "same password")

        let details = try await store.clientDetails(alice)
        XCTAssertEqual(details.loginState, .active)
        XCTAssertEqual(details.login?.username.rawValue, "alice")
        XCTAssertEqual(try fixture.auditCount(event: "portal_login.created"), 2)

        let hashes = try fixture.column("SELECT password_hash FROM portal_users ORDER BY user_id").map {
            guard case .text(let text) = $0 else { return "" }
            return text
        }
        XCTAssertEqual(hashes.count, 2)
        for hash in hashes {
            XCTAssertTrue(hash.hasPrefix("$scrypt$ln=15,r=8,p=1$"), hash)
            let parts = hash.split(separator: "$")
            XCTAssertEqual(parts.count, 4)
            XCTAssertEqual(base64URLDecode(String(parts[2]))?.count, 16, "16 random salt bytes")
            XCTAssertEqual(base64URLDecode(String(parts[3]))?.count, 32)
        }
        XCTAssertNotEqual(hashes[0], hashes[1], "same password, different salt, different hash")
        XCTAssertFalse(
            try fixture.allStoredText().contains { $0.contains("same password") },
            "the password is stored nowhere")
        _ = bob
    }

    func testCreatePortalLoginRefusals() async throws {
        let client = try await fixture.clientWithLogin(accounts, username: "taken")
        let other = try await fixture.client("Other")
        let before = try fixture.snapshot()
        let derivations = accounts.derivations

        await assertPortalError(.notFound, .clientNotFound) {
            try await self.accounts.createPortalLogin(
                for: ClientID(rawValue: 999), username: PortalUsername("nobody"),
                password: PortalPassword(new: "long enough"))
        }
        await assertPortalError(.alreadyExists, .portalLoginExists) {
            try await self.accounts.createPortalLogin(
                for: client, username: PortalUsername("second"), password: PortalPassword(new: "long enough"))
        }
        await assertPortalError(.alreadyExists, .usernameTaken, field: "username") {
            try await self.accounts.createPortalLogin(
                for: other, username: PortalUsername("taken"), password: PortalPassword(new: "long enough"))
        }
        XCTAssertEqual(try fixture.snapshot(), before, "nothing written")
        XCTAssertEqual(accounts.derivations, derivations, "refused before any hashing")

        // Usernames are case-sensitive: "Taken" is another username.
        _ = try await accounts.createPortalLogin(
            for: other, username: PortalUsername("Taken"), password: PortalPassword(new: "long enough"))
    }

    func testUsernameAndPasswordRules() {
        for good in ["abc", "a.b_c-d@e", String(repeating: "Z", count: 64), "alice@example.com", "007"] {
            XCTAssertNoThrow(try PortalUsername(good), good)
        }
        for bad in ["ab", String(repeating: "a", count: 65), "has space", "semi;colon", "ünï", "a/b", ""] {
            assertPortalErrorSync(.invalidArgument, .invalidUsername, field: "username") {
                try PortalUsername(bad)
            }
        }
        XCTAssertNoThrow(try PortalPassword(new: "12345678"))
        XCTAssertNoThrow(try PortalPassword(new: String(repeating: "p", count: 256)))
        // Bytes, not characters: 64 four-byte scalars are 256 bytes.
        XCTAssertNoThrow(try PortalPassword(new: String(repeating: "🐕", count: 64)))
        assertPortalErrorSync(.invalidArgument, .invalidPassword, field: "password") {
            try PortalPassword(new: String(repeating: "🐕", count: 65))
        }
        assertPortalErrorSync(.invalidArgument, .invalidPassword, field: "password") {
            try PortalPassword(new: "1234567")
        }
        assertPortalErrorSync(.invalidArgument, .invalidPassword, field: "password") {
            try PortalPassword(new: String(repeating: "p", count: 257))
        }
        assertPortalErrorSync(.invalidArgument, .invalidPassword, field: "password") {
            try PortalPassword(presented: "")
        }
        XCTAssertNoThrow(try PortalPassword(presented: "x"))
        let secret = try? PortalPassword(new: "hunter2hunter2")
        XCTAssertFalse("\(String(describing: secret))".contains("hunter2"), "never printed")
    }

    // MARK: Sessions

    func testLoginIssuesATokenThatAuthenticatesAsTheClient() async throws {
        let client = try await fixture.clientWithLogin(accounts, username: "alice")
        let session = try await accounts.login("alice", "correct horse")
        XCTAssertEqual(session.client, client)
        XCTAssertEqual(session.expiresAt, fixture.clock.now.adding(seconds: 12 * 3600), "12 hours by default")
        XCTAssertEqual(session.token.rawValue.utf8.count, 43, "256 bits in base64url")
        XCTAssertFalse("\(session.token)".contains(session.token.rawValue), "redacted when printed")

        let caller = try await accounts.authenticate(sessionToken: session.token.rawValue)
        XCTAssertEqual(caller, client)

        let again = try await accounts.login("alice", "correct horse")
        XCTAssertNotEqual(again.token, session.token, "every login gets a fresh token")
    }

    func testTokensAreNeverStoredInClear() async throws {
        _ = try await fixture.clientWithLogin(accounts, username: "alice")
        let session = try await accounts.login("alice", "correct horse")

        let stored = try fixture.column("SELECT token_hash FROM sessions")
        let expected = SHA256.hash(data: Array(session.token.rawValue.utf8))
            .map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(stored, [.text(expected)], "only the SHA-256 of the token")
        XCTAssertFalse(
            try fixture.allStoredText().contains { $0.contains(session.token.rawValue) },
            "the token itself is nowhere in the database")
    }

    func testSessionsExpire() async throws {
        let short = try fixture.accounts(.init(sessionLifetimeSeconds: 60))
        let client = try await fixture.clientWithLogin(short, username: "alice")
        let session = try await short.login("alice", "correct horse")
        fixture.clock.advance(bySeconds: 59)
        let stillThere = try await short.authenticate(sessionToken: session.token.rawValue)
        XCTAssertEqual(stillThere, client)
        fixture.clock.advance(bySeconds: 1)
        await assertPortalError(.unauthenticated, .invalidCredentials) {
            try await short.authenticate(sessionToken: session.token.rawValue)
        }
        let actual1 = try await store.purgeExpiredSessions()
        XCTAssertEqual(actual1, 1)
        XCTAssertEqual(try fixture.column("SELECT count(*) FROM sessions"), [.integer(0)])

        XCTAssertThrowsError(try fixture.accounts(.init(sessionLifetimeSeconds: 0)))
    }

    func testLogoutEndsTheSessionAtOnce() async throws {
        _ = try await fixture.clientWithLogin(accounts, username: "alice")
        let session = try await accounts.login("alice", "correct horse")
        let other = try await accounts.login("alice", "correct horse")
        try await accounts.logout(sessionToken: session.token.rawValue)
        await assertPortalError(.unauthenticated, .invalidCredentials) {
            try await self.accounts.authenticate(sessionToken: session.token.rawValue)
        }
        // Logging out twice, or with garbage, is harmless; other sessions live on.
        try await accounts.logout(sessionToken: session.token.rawValue)
        try await accounts.logout(sessionToken: "garbage")
        _ = try await accounts.authenticate(sessionToken: other.token.rawValue)
    }

    func testMalformedAndUnknownTokensAreInvalidCredentials() async throws {
        for token in ["", "Bearer", "x", String(repeating: "A", count: 43), String(repeating: "!", count: 43)] {
            await assertPortalError(.unauthenticated, .invalidCredentials) {
                try await self.accounts.authenticate(sessionToken: token)
            }
        }
    }

    // MARK: Wrong username vs wrong password

    func testWrongUsernameAndWrongPasswordAreTheSameAnswerAfterTheSameWork() async throws {
        _ = try await fixture.clientWithLogin(accounts, username: "alice")
        let start = accounts.derivations

        let wrongPassword = await portalError { try await self.accounts.login("alice", "wrong horse") }
        XCTAssertEqual(accounts.derivations, start + 1, "one KDF derivation")
        let wrongUsername = await portalError { try await self.accounts.login("alicf", "correct horse") }
        XCTAssertEqual(accounts.derivations, start + 2, "also one KDF derivation, against a dummy")

        XCTAssertEqual(wrongPassword, wrongUsername, "same kind, reason, message and details")
        XCTAssertEqual(wrongPassword?.kind, .unauthenticated)
        XCTAssertEqual(wrongPassword?.reason, .invalidCredentials)
    }

    // MARK: Staff controls

    func testDisabledLoginStopsSessionsAtOnceAndCannotLogIn() async throws {
        let client = try await fixture.clientWithLogin(accounts, username: "alice")
        let session = try await accounts.login("alice", "correct horse")

        let results = try await store.disablePortalLogins(for: ClientIDList([client]))
        XCTAssertEqual(results, [ClientActionResult(client: client, outcome: .done)])

        await assertPortalError(.unauthenticated, .loginDisabled) {
            try await self.accounts.authenticate(sessionToken: session.token.rawValue)
        }
        // At login, a disabled login answers like a wrong password.
        let refused = await portalError { try await self.accounts.login("alice", "correct horse") }
        let wrong = await portalError { try await self.accounts.login("alice", "wrong horse") }
        XCTAssertEqual(refused, wrong)
        XCTAssertEqual(refused?.reason, .invalidCredentials)

        // The account stays.
        let details = try await store.clientDetails(client)
        XCTAssertEqual(details.loginState, .disabled)
        XCTAssertEqual(details.login?.username.rawValue, "alice")
        XCTAssertEqual(try fixture.column("SELECT count(*) FROM portal_users"), [.integer(1)])

        // Disabling again is done, without a second audit entry.
        _ = try await store.disablePortalLogins(for: ClientIDList([client]))
        XCTAssertEqual(try fixture.auditCount(event: "portal_login.disabled"), 1)
    }

    func testEnablingAgainAllowsLoginButDoesNotReviveOldSessions() async throws {
        let client = try await fixture.clientWithLogin(accounts, username: "alice")
        let old = try await accounts.login("alice", "correct horse")
        _ = try await store.disablePortalLogins(for: ClientIDList([client]))
        let results = try await store.enablePortalLogins(for: ClientIDList([client]))
        XCTAssertEqual(results, [ClientActionResult(client: client, outcome: .done)])

        await assertPortalError(.unauthenticated, .invalidCredentials) {
            try await self.accounts.authenticate(sessionToken: old.token.rawValue)
        }
        let fresh = try await accounts.login("alice", "correct horse")
        let caller = try await accounts.authenticate(sessionToken: fresh.token.rawValue)
        XCTAssertEqual(caller, client)
        let details = try await store.clientDetails(client)
        XCTAssertEqual(details.loginState, .active)
        XCTAssertEqual(try fixture.auditCount(event: "portal_login.enabled"), 1)
    }

    func testRemovedLoginCannotLogInAndItsSessionsEnd() async throws {
        let client = try await fixture.clientWithLogin(accounts, username: "alice")
        let session = try await accounts.login("alice", "correct horse")

        let results = try await store.removePortalLogins(for: ClientIDList([client]), deleteUser: false)
        XCTAssertEqual(results, [ClientActionResult(client: client, outcome: .done)])

        await assertPortalError(.unauthenticated, .invalidCredentials) {
            try await self.accounts.authenticate(sessionToken: session.token.rawValue)
        }
        await assertPortalError(.unauthenticated, .invalidCredentials) {
            try await self.accounts.login("alice", "correct horse")
        }
        let details = try await store.clientDetails(client)
        XCTAssertEqual(details.loginState, PortalLoginState.none)
        XCTAssertEqual(try fixture.column("SELECT count(*) FROM sessions"), [.integer(0)])
        // Unlinked, not deleted: the user and its username remain.
        XCTAssertEqual(try fixture.column("SELECT username FROM portal_users"), [.text("alice")])
        let other = try await fixture.client("Other")
        await assertPortalError(.alreadyExists, .usernameTaken) {
            try await self.accounts.createPortalLogin(
                for: other, username: PortalUsername("alice"), password: PortalPassword(new: "long enough"))
        }
        // The client itself may get a new login.
        _ = try await accounts.createPortalLogin(
            for: client, username: PortalUsername("alice2"), password: PortalPassword(new: "long enough"))
    }

    func testRemoveWithDeleteUserFreesTheUsername() async throws {
        let client = try await fixture.clientWithLogin(accounts, username: "alice")
        _ = try await accounts.login("alice", "correct horse")
        _ = try await store.removePortalLogins(for: ClientIDList([client]), deleteUser: true)
        XCTAssertEqual(try fixture.column("SELECT count(*) FROM portal_users"), [.integer(0)])
        XCTAssertEqual(try fixture.column("SELECT count(*) FROM sessions"), [.integer(0)])
        XCTAssertEqual(try fixture.auditCount(event: "portal_login.removed"), 1)
        await assertPortalError(.unauthenticated, .invalidCredentials) {
            try await self.accounts.login("alice", "correct horse")
        }
        let other = try await fixture.client("Other")
        _ = try await accounts.createPortalLogin(
            for: other, username: PortalUsername("alice"), password: PortalPassword(new: "long enough"))
    }

    func testBulkActionsAnswerPerClientInRequestOrder() async throws {
        let a = try await fixture.clientWithLogin(accounts, name: "A", username: "user-a")
        let noLogin = try await fixture.client("No login")
        let b = try await fixture.clientWithLogin(accounts, name: "B", username: "user-b")
        let missing = ClientID(rawValue: 4_040)
        let ids = try ClientIDList([a, missing, noLogin, b])
        let expected = [
            ClientActionResult(client: a, outcome: .done),
            ClientActionResult(client: missing, outcome: .notFound),
            ClientActionResult(client: noLogin, outcome: .noLogin),
            ClientActionResult(client: b, outcome: .done),
        ]
        let actual2 = try await store.disablePortalLogins(for: ids)
        XCTAssertEqual(actual2, expected)
        let actual3 = try await store.enablePortalLogins(for: ids)
        XCTAssertEqual(actual3, expected)
        let actual4 = try await store.removePortalLogins(for: ids, deleteUser: false)
        XCTAssertEqual(actual4, expected)
        // Now nobody has a login.
        let afterRemoval = try await store.disablePortalLogins(for: ids)
        XCTAssertEqual(afterRemoval.map(\.outcome), [.noLogin, .notFound, .noLogin, .noLogin])
    }

    // MARK: Rate limiting

    func testFailedLoginsAreRateLimitedPerUsernameAndTheLimitLifts() async throws {
        _ = try await fixture.clientWithLogin(accounts, username: "alice")
        _ = try await fixture.clientWithLogin(accounts, name: "Bob", username: "bob")
        for _ in 0..<5 {
            await assertPortalError(.unauthenticated, .invalidCredentials) {
                try await self.accounts.login("alice", "wrong horse")
            }
            fixture.clock.advance(bySeconds: 10)
        }
        let derivations = accounts.derivations
        // Now even the right password is refused, without checking it.
        let limited = await portalError { try await self.accounts.login("alice", "correct horse") }
        XCTAssertEqual(limited?.kind, .resourceExhausted)
        XCTAssertEqual(limited?.reason, .rateLimited)
        XCTAssertEqual(limited?.details["retry_after_seconds"], "250", "the first failure ages out at 300 s")
        XCTAssertEqual(accounts.derivations, derivations, "a refused attempt costs no KDF work")

        // Another username is not affected.
        _ = try await accounts.login("bob", "correct horse")

        fixture.clock.advance(bySeconds: 249)
        let stillLimited = await portalError { try await self.accounts.login("alice", "correct horse") }
        XCTAssertEqual(stillLimited?.details["retry_after_seconds"], "1")
        fixture.clock.advance(bySeconds: 1)
        _ = try await accounts.login("alice", "correct horse")
        XCTAssertEqual(
            accounts.recentLoginFailures(for: try PortalUsername("alice")), 0,
            "a success forgives the failures")
    }

    func testUnknownUsernamesAreRateLimitedAlike() async throws {
        for _ in 0..<5 {
            await assertPortalError(.unauthenticated, .invalidCredentials) {
                try await self.accounts.login("ghost", "whatever")
            }
        }
        await assertPortalError(.resourceExhausted, .rateLimited) {
            try await self.accounts.login("ghost", "whatever")
        }
    }

    func testConcurrentAttemptsCannotSlipPastTheLimit() async throws {
        _ = try await fixture.clientWithLogin(accounts, username: "alice")
        let accounts = self.accounts!
        let start = accounts.derivations
        let errors = await withTaskGroup(of: PortalError?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        _ = try await accounts.login("alice", "wrong horse")
                        return nil
                    } catch { return error as? PortalError }
                }
            }
            var all: [PortalError?] = []
            for await error in group { all.append(error) }
            return all
        }
        XCTAssertEqual(errors.filter { $0?.reason == .invalidCredentials }.count, 5)
        XCTAssertEqual(errors.filter { $0?.reason == .rateLimited }.count, 15)
        XCTAssertEqual(accounts.derivations - start, 5)
    }

    // MARK: KDF parameters

    func testWeakHashingParametersAreRefused() throws {
        let weak: [PasswordHashingPolicy.Algorithm] = [
            .scrypt(logRounds: 14, blockSize: 8, parallelism: 1),
            .scrypt(logRounds: 15, blockSize: 4, parallelism: 1),
            .scrypt(logRounds: 15, blockSize: 8, parallelism: 0),
            .scrypt(logRounds: 20, blockSize: 8, parallelism: 1),  // 1 GiB: over the bound
            .pbkdf2SHA256(rounds: 209_999),
            .pbkdf2SHA256(rounds: 1000),
        ]
        for algorithm in weak {
            XCTAssertThrowsError(
                try fixture.accounts(.init(passwordHashing: PasswordHashingPolicy(algorithm: algorithm))),
                "\(algorithm)"
            ) { error in
                XCTAssertEqual((error as? PortalError)?.reason, .invalidConfiguration)
                XCTAssertEqual((error as? PortalError)?.field, "password_hashing")
            }
        }
        XCTAssertNoThrow(try PasswordHashingPolicy(algorithm: .pbkdf2SHA256(rounds: 210_000)).validated())
        XCTAssertNoThrow(try PasswordHashingPolicy.default.validated())
    }

    func testPBKDF2HashesVerifyAndAreUpgradedToThePolicyAtLogin() async throws {
        let pbkdf2 = try fixture.accounts(
            .init(passwordHashing: PasswordHashingPolicy(algorithm: .pbkdf2SHA256(rounds: 210_000))))
        let client = try await fixture.clientWithLogin(pbkdf2, username: "alice")
        let storedBefore = try fixture.column("SELECT password_hash FROM portal_users")
        guard case .text(let before) = storedBefore.first else { return XCTFail("no hash") }
        XCTAssertTrue(before.hasPrefix("$pbkdf2-sha256$i=210000$"), before)
        _ = try await pbkdf2.login("alice", "correct horse")
        XCTAssertEqual(try fixture.column("SELECT password_hash FROM portal_users"), storedBefore)

        // The default policy (scrypt) still verifies the old hash, and
        // replaces it with one of its own.
        let session = try await accounts.login("alice", "correct horse")
        XCTAssertEqual(session.client, client)
        guard case .text(let after) = try fixture.column("SELECT password_hash FROM portal_users").first
        else { return XCTFail("no hash") }
        XCTAssertTrue(after.hasPrefix("$scrypt$ln=15,r=8,p=1$"), after)
        _ = try await accounts.login("alice", "correct horse")
    }

    func testAStoredHashBelowTheFloorNeverVerifies() async throws {
        let client = try await fixture.clientWithLogin(accounts, username: "alice")
        // A hash made with scrypt N = 2^10 — correct for the password, but
        // too cheap to be trusted.
        let salt = Array(repeating: UInt8(7), count: 16)
        let weak = PasswordHashingPolicy.Algorithm.scrypt(logRounds: 10, blockSize: 8, parallelism: 1)
        let hash = try weak.derive(Array("correct horse".utf8), salt: salt, byteCount: 32)
        let encoded = StoredPasswordHash(algorithm: weak, salt: salt, hash: hash).encoded
        let db = try SQLiteConnection(path: fixture.path, busyTimeoutMilliseconds: 5000)
        try db.run("UPDATE portal_users SET password_hash = ?", [.text(encoded)])
        db.close()

        await assertPortalError(.unauthenticated, .invalidCredentials) {
            try await self.accounts.login("alice", "correct horse")
        }
        _ = client
    }

    func testStoredHashFormatRoundTrips() throws {
        let hash = StoredPasswordHash(
            algorithm: .scrypt(logRounds: 15, blockSize: 8, parallelism: 1),
            salt: Array(0..<16), hash: Array(100..<132))
        XCTAssertEqual(StoredPasswordHash(encoded: hash.encoded), hash)
        let pbkdf2 = StoredPasswordHash(
            algorithm: .pbkdf2SHA256(rounds: 600_000), salt: Array(0..<16), hash: Array(0..<32))
        XCTAssertEqual(StoredPasswordHash(encoded: pbkdf2.encoded), pbkdf2)
        for bad in ["", "plain", "$md5$x$y$z", "$scrypt$ln=15,r=8$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                    "$scrypt$ln=15,r=8,p=1$short$AAAAAAAAAAAAAAAAAAAAAA"] {
            XCTAssertNil(StoredPasswordHash(encoded: bad), bad)
        }
        XCTAssertTrue(constantTimeEqual([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(constantTimeEqual([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(constantTimeEqual([1, 2, 3], [1, 2]))
    }
}
