import Foundation
@testable import PortalStore
import XCTest

/// The audit log's detail is JSON built by hand: every string comes out
/// escaped so that any parser reads back exactly what was given.
final class AuditJSONTests: XCTestCase {
    func testDetailRoundTripsThroughAJSONParser() throws {
        let awkward = [
            "plain", "", "pi_3AbC", "quote \" inside", "back\\slash", "line\nbreak", "tab\tand\r",
            "bell \u{07} and nul \u{00}", "déjà vu 🐕", "\u{1F}",
        ]
        for text in awkward {
            let json = AuditLog.json([("value", .text(text)), ("n", .int(-42)), ("b", .bool(true)), ("z", .null)])
            let object = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
            XCTAssertEqual(object["value"] as? String, text, json)
            XCTAssertEqual(object["n"] as? Int, -42)
            XCTAssertEqual(object["b"] as? Bool, true)
            XCTAssertTrue(object["z"] is NSNull)
        }
        XCTAssertEqual(AuditLog.json([("a", .text("x")), ("b", .int(1))]), #"{"a":"x","b":1}"#)
    }
}
