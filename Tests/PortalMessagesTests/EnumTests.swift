import PortalMessages
import XCTest

final class EnumTests: XCTestCase {
    func testCaseNamesDropTheEnumNamePrefix() {
        XCTAssertEqual(BookingStatus.knownCases, [.unspecified, .confirmed, .cancelled])
        XCTAssertEqual(BookingStatus.knownCases.map(\.rawValue), [0, 1, 2])
        XCTAssertEqual(
            PaymentState.knownCases, [.unspecified, .capturePending, .captured, .canceled, .refunded])
        XCTAssertEqual(PortalLoginState.knownCases, [.unspecified, .none, .active, .disabled])
        XCTAssertEqual(ClientActionOutcome.knownCases, [.unspecified, .done, .notFound, .noLogin])
        // Values without the prefix keep their whole name.
        XCTAssertEqual(HealthCheckResponse.ServingStatus.knownCases, [.unknown, .serving, .notServing])
        XCTAssertEqual(HealthCheckResponse.ServingStatus.notServing.rawValue, 2)
    }

    func testRawValuesMapBothWays() {
        for value in PaymentState.knownCases {
            XCTAssertEqual(PaymentState(rawValue: value.rawValue), value)
        }
        XCTAssertEqual(PaymentState(rawValue: 4), .refunded)
        XCTAssertEqual(PaymentState(rawValue: 5), .unrecognized(5))
        XCTAssertEqual(PaymentState(rawValue: -3).rawValue, -3)
    }

    func testEqualityAndHashingFollowTheWireNumber() {
        XCTAssertEqual(BookingStatus.unrecognized(1), .confirmed)
        XCTAssertNotEqual(BookingStatus.unrecognized(3), .cancelled)
        let set: Set<BookingStatus> = [.confirmed, .unrecognized(1), .unrecognized(9)]
        XCTAssertEqual(set.count, 2)
    }
}
