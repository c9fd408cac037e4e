/// A Stripe secret key (`sk_live_…`, `sk_test_…`, `rk_…`).
///
/// Its `description`, `debugDescription` and mirror never show the key, so a
/// configuration can be printed or dumped without leaking it. Only the
/// `Authorization` header of a request reads the value.
public struct StripeSecretKey: Sendable, Hashable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    let value: String

    /// Wraps a key, e.g. from `PORTAL_STRIPE_API_KEY`.
    public init(_ value: String) {
        self.value = value
    }

    /// Whether the key can travel in an HTTP header: non-empty printable ASCII
    /// without spaces (a newline would let a key inject headers).
    var isValidHeaderValue: Bool {
        !value.isEmpty && value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    public var description: String { "StripeSecretKey(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Removes secret keys from text that came back from a server (error
/// messages), before it is stored in an error or logged.
struct SecretScrubber: Sendable {
    static let replacement = "[redacted]"

    // A `StripeSecretKey`, not a `String`, so that `dump`ing a client shows no key.
    let secret: StripeSecretKey

    /// `text` without the configured key and without any token shaped like a
    /// Stripe secret or restricted key (`sk_…`, `rk_…`), in case a server
    /// echoes another one.
    func scrub(_ text: String) -> String {
        var text = text
        if secret.value.count >= 4 {
            text = text.replacingAll(secret.value, with: Self.replacement)
        }
        return Self.scrubKeyShapedTokens(text)
    }

    private static func scrubKeyShapedTokens(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isTokenScalar(_ s: Unicode.Scalar) -> Bool {
            s.properties.isASCIIHexDigit || (s.isASCII && (s.properties.isAlphabetic || s == "_"))
        }
        while i < scalars.count {
            let atBoundary = i == 0 || !isTokenScalar(scalars[i - 1])
            if atBoundary, i + 3 <= scalars.count,
               scalars[i] == "s" || scalars[i] == "r", scalars[i + 1] == "k", scalars[i + 2] == "_"
            {
                var end = i + 3
                while end < scalars.count, isTokenScalar(scalars[end]) { end += 1 }
                if end - (i + 3) >= 4 {
                    out.append(contentsOf: replacement.unicodeScalars)
                    i = end
                    continue
                }
            }
            out.append(scalars[i])
            i += 1
        }
        return String(out)
    }
}

extension String {
    /// Every occurrence of `target` replaced, without Foundation.
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
