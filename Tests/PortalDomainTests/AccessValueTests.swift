@testable import PortalDomain
import XCTest

final class LoginRateLimiterTests: XCTestCase {
    private let start = Instant(unixSeconds: 1_000_000)

    func testFiveFailuresThenRefusedUntilTheWindowPasses() throws {
        var limiter = try LoginRateLimiter(policy: .default)
        for _ in 0..<5 {
            XCTAssertEqual(limiter.admit("alice", now: start), .admitted)
        }
        XCTAssertEqual(limiter.admit("alice", now: start), .refused(retryAfterSeconds: 300))
        XCTAssertEqual(
            limiter.admit("alice", now: start.adding(seconds: 299)), .refused(retryAfterSeconds: 1))
        XCTAssertEqual(limiter.admit("alice", now: start.adding(seconds: 300)), .admitted)
        // Refused attempts are not counted: the window does not keep sliding.
        XCTAssertEqual(limiter.failureCount(for: "alice", now: start.adding(seconds: 300)), 1)
    }

    func testTheLimitLiftsOneAttemptAtATime() throws {
        var limiter = try LoginRateLimiter(policy: .init(maxFailures: 3, windowSeconds: 60))
        for offset in [0, 10, 20] as [Int64] {
            XCTAssertEqual(limiter.admit("bob", now: start.adding(seconds: offset)), .admitted)
        }
        XCTAssertEqual(limiter.admit("bob", now: start.adding(seconds: 30)), .refused(retryAfterSeconds: 30))
        XCTAssertEqual(limiter.admit("bob", now: start.adding(seconds: 60)), .admitted)
        XCTAssertEqual(limiter.admit("bob", now: start.adding(seconds: 61)), .refused(retryAfterSeconds: 9))
    }

    func testSuccessForgivesAndUsernamesAreSeparate() throws {
        var limiter = try LoginRateLimiter(policy: .init(maxFailures: 2, windowSeconds: 60))
        _ = limiter.admit("alice", now: start)
        _ = limiter.admit("alice", now: start)
        XCTAssertEqual(limiter.admit("Alice", now: start), .admitted, "usernames are case-sensitive")
        XCTAssertEqual(limiter.admit("alice", now: start), .refused(retryAfterSeconds: 60))
        limiter.recordSuccess(for: "alice")
        XCTAssertEqual(limiter.admit("alice", now: start), .admitted)
    }

    func testMemoryIsBoundedByForgettingTheStalestUsername() throws {
        var limiter = try LoginRateLimiter(
            policy: .init(maxFailures: 1, windowSeconds: 60, maxTrackedUsernames: 3))
        for (index, name) in ["a", "b", "c"].enumerated() {
            _ = limiter.admit(name, now: start.adding(seconds: Int64(index)))
        }
        _ = limiter.admit("d", now: start.adding(seconds: 3))
        XCTAssertEqual(limiter.trackedUsernameCount, 3)
        XCTAssertEqual(limiter.failureCount(for: "a", now: start.adding(seconds: 3)), 0, "a was stalest")
        XCTAssertEqual(limiter.failureCount(for: "d", now: start.adding(seconds: 3)), 1)
        // Aged-out usernames are dropped first.
        _ = limiter.admit("e", now: start.adding(seconds: 70))
        XCTAssertEqual(limiter.trackedUsernameCount, 1)
    }

    func testPolicyMustBePositive() {
        XCTAssertThrowsError(try LoginRateLimiter(policy: .init(maxFailures: 0)))
        XCTAssertThrowsError(try LoginRateLimiter(policy: .init(windowSeconds: 0)))
        XCTAssertThrowsError(try LoginRateLimiter(policy: .init(maxTrackedUsernames: 0)))
    }
}

final class ClientValueTests: XCTestCase {
    func testEmailAddressesMustBePlausible() throws {
        for good in ["a@b.co", "first.last+tag@example.co.uk", "x_y-z@sub-domain.example", "ü@exämple.de"] {
            XCTAssertEqual(try EmailAddress(good).rawValue, good)
        }
        XCTAssertTrue(try EmailAddress("").isEmpty)
        for bad in [
            "plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", "a@b..com", ".a@b.com",
            "a.@b.com", "a..b@c.com", "a@-b.com", "a@b-.com", "a@.b.com", "a@b.com.", "\"q\"@b.com",
            "a@b.com\n", String(repeating: "a", count: 65) + "@b.com",
        ] {
            assertPortalError(.invalidArgument, .invalidEmail, field: "email") { try EmailAddress(bad) }
        }
    }

    func testNamesAndPhones() throws {
        XCTAssertEqual(try ClientName("Zoë Ødegård").rawValue, "Zoë Ødegård")
        assertPortalError(.invalidArgument, .invalidName, field: "name") { try ClientName("\t") }
        XCTAssertEqual(try PhoneNumber("+44 20 7946 0958 ext. 12").rawValue, "+44 20 7946 0958 ext. 12")
        assertPortalError(.invalidArgument, .invalidPhone, field: "phone") { try PhoneNumber("01\u{7}") }
    }

    func testSessionTokensAreRandomAndStrictlyFormatted() {
        let tokens = Set((0..<100).map { _ in SessionToken.generate() })
        XCTAssertEqual(tokens.count, 100)
        for token in tokens {
            XCTAssertEqual(token.rawValue.utf8.count, 43)
            XCTAssertEqual(base64URLDecode(token.rawValue)?.count, 32)
            XCTAssertEqual(SessionToken(presented: token.rawValue), token)
        }
        XCTAssertNil(SessionToken(presented: String(repeating: "A", count: 42)))
        XCTAssertNil(SessionToken(presented: String(repeating: "=", count: 43)))
    }

    func testBase64URLRoundTripsAndRefusesNonCanonicalText() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8($0 * 37 & 0xFF) }
            XCTAssertEqual(base64URLDecode(base64URLEncode(bytes)), bytes)
        }
        XCTAssertNil(base64URLDecode("A"), "a length of 1 mod 4 is impossible")
        XCTAssertNil(base64URLDecode("AB"), "non-zero trailing bits")
        XCTAssertNil(base64URLDecode("AA=="), "no padding")
        XCTAssertEqual(base64URLDecode("AA"), [0])
    }
}
