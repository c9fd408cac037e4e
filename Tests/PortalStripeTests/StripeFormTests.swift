import XCTest
@testable import PortalStripe

final class StripeFormTests: XCTestCase {
    func testUnreservedCharactersPassThrough() {
        XCTAssertEqual(StripeForm.encode("AZaz09*-._", keepBrackets: false), "AZaz09*-._")
    }

    func testSpaceBecomesPlusAndReservedCharactersAreEscaped() {
        XCTAssertEqual(StripeForm.encode("a&b=c d", keepBrackets: false), "a%26b%3Dc+d")
        XCTAssertEqual(StripeForm.encode("+%/?#~'!", keepBrackets: false), "%2B%25%2F%3F%23%7E%27%21")
    }

    func testNonASCIIIsEscapedAsUTF8Bytes() {
        XCTAssertEqual(StripeForm.encode("é", keepBrackets: false), "%C3%A9")
        XCTAssertEqual(StripeForm.encode("🐕", keepBrackets: false), "%F0%9F%90%95")
        XCTAssertEqual(StripeForm.encode("\n\r\0", keepBrackets: false), "%0A%0D%00")
    }

    func testBracketsStayLiteralInKeysOnly() {
        XCTAssertEqual(StripeForm.encode("metadata[hold_token]", keepBrackets: true), "metadata[hold_token]")
        XCTAssertEqual(StripeForm.encode("[x]", keepBrackets: false), "%5Bx%5D")
    }

    func testFieldsKeepTheirOrderAndMayRepeat() {
        var form = StripeForm()
        form.append("amount", "2500")
        form.append("payment_method_types[]", "card")
        form.append("payment_method_types[]", "link")
        XCTAssertEqual(form.encoded, "amount=2500&payment_method_types[]=card&payment_method_types[]=link")
    }

    func testDictionaryBecomesSortedNestedKeys() {
        var form = StripeForm()
        form.append("metadata", dictionary: ["z": "1", "hold token": "a&b", "a": "é"])
        XCTAssertEqual(form.encoded, "metadata[a]=%C3%A9&metadata[hold+token]=a%26b&metadata[z]=1")
    }

    func testEmptyFormIsEmptyBody() {
        XCTAssertEqual(StripeForm().encoded, "")
    }
}
