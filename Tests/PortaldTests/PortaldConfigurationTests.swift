import Foundation
import Logging
import XCTest

@testable import portald

final class PortaldConfigurationTests: XCTestCase {
    func testDefaultsLetItStartWithNothingConfigured() throws {
        let configuration = try PortaldCommand.parse([]).resolve(environment: [:])
        XCTAssertEqual(configuration.host, "127.0.0.1")
        XCTAssertEqual(configuration.port, 7420)
        XCTAssertEqual(configuration.databasePath, "var/portal.sqlite")
        XCTAssertEqual(configuration.timeZone, "Europe/London")
        XCTAssertEqual(configuration.holdMinutes, 10)
        XCTAssertEqual(configuration.adminKeys, [])
        XCTAssertNil(configuration.stripeAPIKey)
        XCTAssertEqual(configuration.stripeAPIBase, "https://api.stripe.com")
        XCTAssertEqual(configuration.server.limits.maximumFrameLength, 4 * 1024 * 1024)
        XCTAssertEqual(configuration.server.timeouts.idleTimeout, .seconds(300))
        XCTAssertEqual(configuration.logLevel, .info)
    }

    func testEnvironmentIsUsedWhenNoFlagIsGiven() throws {
        let configuration = try PortaldCommand.parse([]).resolve(environment: [
            "PORTAL_LISTEN": "0.0.0.0:9000", "PORTAL_DB": "/tmp/x/p.sqlite", "PORTAL_TIME_ZONE": "Europe/Paris",
            "PORTAL_HOLD_MINUTES": "15", "PORTAL_ADMIN_KEYS": "a, b,,c", "PORTAL_STRIPE_API_KEY": "sk_test_1",
            "PORTAL_STRIPE_API_BASE": "http://127.0.0.1:8420", "PORTAL_MAX_CONNECTIONS": "10",
            "PORTAL_MAX_IN_FLIGHT": "5", "PORTAL_MAX_FRAME_BYTES": "65536", "PORTAL_IDLE_TIMEOUT_SECONDS": "30",
            "PORTAL_MAX_RUNNING_CALLS": "64", "PORTAL_LOG_LEVEL": "DEBUG",
        ])
        XCTAssertEqual(configuration.host, "0.0.0.0")
        XCTAssertEqual(configuration.port, 9000)
        XCTAssertEqual(configuration.databasePath, "/tmp/x/p.sqlite")
        XCTAssertEqual(configuration.timeZone, "Europe/Paris")
        XCTAssertEqual(configuration.holdMinutes, 15)
        XCTAssertEqual(configuration.adminKeys, ["a", "b", "c"])
        XCTAssertEqual(configuration.stripeAPIKey, "sk_test_1")
        XCTAssertEqual(configuration.stripeAPIBase, "http://127.0.0.1:8420")
        XCTAssertEqual(configuration.server.limits.maxConnections, 10)
        XCTAssertEqual(configuration.server.limits.maxInFlightPerConnection, 5)
        XCTAssertEqual(configuration.server.limits.maxRunningCalls, 64)
        XCTAssertEqual(configuration.server.limits.maximumFrameLength, 65536)
        XCTAssertEqual(configuration.server.timeouts.idleTimeout, .seconds(30))
        XCTAssertEqual(configuration.logLevel, .debug)
    }

    func testFlagsWinOverTheEnvironment() throws {
        let command = try PortaldCommand.parse([
            "--listen", "[::1]:7421", "--admin-key", "k1", "--admin-key", "k2", "--max-in-flight", "7",
            "--max-running-calls", "9",
        ])
        let configuration = try command.resolve(environment: [
            "PORTAL_LISTEN": "0.0.0.0:9000", "PORTAL_ADMIN_KEYS": "env", "PORTAL_MAX_IN_FLIGHT": "5",
            "PORTAL_MAX_RUNNING_CALLS": "64",
        ])
        XCTAssertEqual(configuration.host, "::1")
        XCTAssertEqual(configuration.port, 7421)
        XCTAssertEqual(configuration.adminKeys, ["k1", "k2"])
        XCTAssertEqual(configuration.server.limits.maxInFlightPerConnection, 7)
        XCTAssertEqual(configuration.server.limits.maxRunningCalls, 9)
    }

    func testInvalidValuesAreRefusedWithAClearMessage() throws {
        XCTAssertThrowsError(try PortaldCommand.parse(["--listen", "localhost"]).resolve(environment: [:]))
        XCTAssertThrowsError(try PortaldCommand.parse(["--listen", "h:70000"]).resolve(environment: [:]))
        XCTAssertThrowsError(try PortaldCommand.parse([]).resolve(environment: ["PORTAL_HOLD_MINUTES": "ten"]))
        XCTAssertThrowsError(try PortaldCommand.parse(["--max-connections", "0"]).resolve(environment: [:]))
        XCTAssertThrowsError(try PortaldCommand.parse(["--max-running-calls", "0"]).resolve(environment: [:]))
        XCTAssertThrowsError(try PortaldCommand.parse(["--log-level", "loud"]).resolve(environment: [:]))
        // The message names what the user gave: the flag, or the variable.
        XCTAssertThrowsError(try PortaldCommand.parse(["--hold-minutes", "0"]).resolve(environment: [:])) {
            XCTAssertEqual("\($0)", "--hold-minutes must be 1-1440, not 0")
        }
        XCTAssertThrowsError(try PortaldCommand.parse([]).resolve(environment: ["PORTAL_HOLD_MINUTES": "0"])) {
            XCTAssertEqual("\($0)", "PORTAL_HOLD_MINUTES must be 1-1440, not 0")
        }
        XCTAssertThrowsError(try PortaldCommand.parse(["--time-zone", "Mars/Base"]).resolve(environment: [:])) {
            XCTAssertEqual(
                "\($0)", "time zone 'Mars/Base' (--time-zone / PORTAL_TIME_ZONE) is not an IANA name such as Europe/London")
        }
    }

    func testPaymentsAreStripeWithAKeyAndOtherwiseOffNeverSimulatedByDefault() throws {
        let none = try PortaldCommand.parse([]).resolve(environment: [:])
        XCTAssertEqual(none.payments, .disabled)
        XCTAssertEqual(none.holdGraceSeconds, 60)
        XCTAssertTrue(none.faults.isEmpty)
        let keyed = try PortaldCommand.parse(["--stripe-api-key", "sk_test_1"]).resolve(environment: [:])
        XCTAssertEqual(keyed.payments, .stripe)
        let fromEnvironment = try PortaldCommand.parse([]).resolve(environment: [
            "PORTAL_STRIPE_API_KEY": "sk_test_1", "PORTAL_HOLD_GRACE_SECONDS": "5",
        ])
        XCTAssertEqual(fromEnvironment.payments, .stripe)
        XCTAssertEqual(fromEnvironment.holdGraceSeconds, 5)
    }

    func testSimulatedPaymentsOnlyWhenAskedForEvenWithAKey() throws {
        let asked = try PortaldCommand.parse(["--payments", "simulated", "--stripe-api-key", "sk_test_1"])
            .resolve(environment: [:])
        XCTAssertEqual(asked.payments, .simulated)
        let fromEnvironment = try PortaldCommand.parse([]).resolve(environment: ["PORTAL_PAYMENTS": "simulated"])
        XCTAssertEqual(fromEnvironment.payments, .simulated)
    }

    func testPaymentSettingsThatCannotWorkAreRefused() throws {
        XCTAssertThrowsError(try PortaldCommand.parse(["--payments", "stripe"]).resolve(environment: [:]))
        XCTAssertThrowsError(try PortaldCommand.parse(["--payments", "paypal"]).resolve(environment: [:]))
        XCTAssertThrowsError(try PortaldCommand.parse(["--hold-grace-seconds", "-1"]).resolve(environment: [:]))
        XCTAssertThrowsError(
            try PortaldCommand.parse([]).resolve(environment: ["PORTAL_FAULT_INJECTION": "crash-sometime"]))
        XCTAssertTrue(
            try PortaldCommand.parse([]).resolve(environment: ["PORTAL_FAULT_INJECTION": "crash-after-booking-commit"])
                .faults.crashAfterBookingCommit)
    }

    func testWithoutAnAdminKeyOneIsGeneratedIntoAPrivateFileAndReused() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("portald-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("var/portal.sqlite").path
        let logger = Logger(label: "test")

        let keys = try AdminKeyFile.resolve(configured: [], databasePath: database, logger: logger)
        XCTAssertEqual(keys.count, 1)
        XCTAssertEqual(keys[0].count, 64)
        let path = folder.appendingPathComponent("var/admin.key").path
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)

        XCTAssertEqual(try AdminKeyFile.resolve(configured: [], databasePath: database, logger: logger), keys)
        XCTAssertEqual(try AdminKeyFile.resolve(configured: ["given"], databasePath: database, logger: logger), ["given"])
    }
}
