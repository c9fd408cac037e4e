/// An `application/x-www-form-urlencoded` request body, encoded the way
/// Stripe's API reads it: fields in the order they were added, nested keys in
/// bracket form (`metadata[hold_token]`, `payment_method_types[]`).
///
/// ```swift
/// var form = StripeForm()
/// form.append("amount", "2500")
/// form.append("metadata[hold_token]", "a&b")
/// form.encoded  // "amount=2500&metadata[hold_token]=a%26b"
/// ```
package struct StripeForm: Sendable {
    /// The fields, in order.
    package private(set) var fields: [(key: String, value: String)] = []

    package init() {}

    /// Adds one field; a key may repeat (`payment_method_types[]`).
    package mutating func append(_ key: String, _ value: String) {
        fields.append((key, value))
    }

    /// Adds `prefix[key]=value` for each entry, keys sorted so that the same
    /// dictionary always gives the same body.
    package mutating func append(_ prefix: String, dictionary: [String: String]) {
        for key in dictionary.keys.sorted() {
            append("\(prefix)[\(key)]", dictionary[key]!)
        }
    }

    /// The body: `key=value` pairs joined by `&`, each side percent-encoded
    /// as the WHATWG URL standard's form serializer does (UTF-8, space as
    /// `+`, everything but `A–Z a–z 0–9 * - . _` escaped). Brackets in keys are
    /// kept literal, as Stripe's own libraries send them; in values they are
    /// escaped like everything else.
    package var encoded: String {
        fields.map { Self.encode($0.key, keepBrackets: true) + "=" + Self.encode($0.value, keepBrackets: false) }
            .joined(separator: "&")
    }

    /// Percent-encodes one key or value.
    package static func encode(_ text: String, keepBrackets: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                out.append(byte)
            case UInt8(ascii: "[") where keepBrackets, UInt8(ascii: "]") where keepBrackets:
                out.append(byte)
            case UInt8(ascii: " "):
                out.append(UInt8(ascii: "+"))
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

private let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
