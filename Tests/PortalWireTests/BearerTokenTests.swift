import PortalWire
import XCTest

/// `authorization: Bearer <token>` as every authenticated call carries it.
final class BearerTokenTests: XCTestCase {
    func testTheTokenAfterTheBearerPrefixIsTaken() {
        XCTAssertEqual(MetadataKey.bearerToken(in: ["authorization": "Bearer abc-DEF_123"]), "abc-DEF_123")
        XCTAssertEqual(MetadataKey.bearerToken(in: ["authorization": "Bearer  spaced"]), " spaced")
        XCTAssertEqual(MetadataKey.bearerToken(in: ["authorization": "Bearer é✓"]), "é✓")
    }

    func testAnythingElseIsNoToken() {
        XCTAssertNil(MetadataKey.bearerToken(in: [:]))
        XCTAssertNil(MetadataKey.bearerToken(in: ["authorization": "Bearer "]))
        XCTAssertNil(MetadataKey.bearerToken(in: ["authorization": "Bearer"]))
        XCTAssertNil(MetadataKey.bearerToken(in: ["authorization": "bearer abc"]))
        XCTAssertNil(MetadataKey.bearerToken(in: ["authorization": "Basic abc"]))
        XCTAssertNil(MetadataKey.bearerToken(in: ["Authorization": "Bearer abc"]))
    }
}
