@testable import PortalCheckout
import XCTest

/// The simulated gateway's warning: the first checkout, then at most once a
/// minute, counting the checkouts in between.
final class SimulationWarningsTests: XCTestCase {
    func testWarnsOnTheFirstCheckoutThenOncePerIntervalWithTheCount() {
        let warnings = SimulationWarnings()
        let start = ContinuousClock.now
        XCTAssertEqual(warnings.checkout(at: start), 1)
        for second in 1...59 {
            XCTAssertNil(warnings.checkout(at: start + .seconds(second)), "second \(second)")
        }
        XCTAssertNil(warnings.checkout(at: start + .milliseconds(59_999)))
        // The 60 checkouts in between, and this one.
        XCTAssertEqual(warnings.checkout(at: start + .seconds(60)), 61)
        XCTAssertNil(warnings.checkout(at: start + .seconds(61)))
        // After a quiet spell, the next checkout warns at once.
        XCTAssertEqual(warnings.checkout(at: start + .seconds(600)), 2)
    }
}
