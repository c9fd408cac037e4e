import Foundation
import Logging
import PortalStripe

/// A real `localstripe` server (a local Stripe-compatible API, from PyPI) for
/// tests: started on 127.0.0.1 and a port of its own, stopped afterwards.
///
/// Each instance runs in its own temporary working directory and keeps its
/// store there, so instances in parallel test processes never share state (a
/// plain `localstripe` re-pickles its store to the fixed path
/// `/tmp/localstripe.pickle` on every write). See docs/stripe.md.
///
/// ```swift
/// final class CheckoutTests: XCTestCase {
///     var stripe: LocalStripe!
///     override func setUp() async throws {
///         stripe = try LocalStripe.sharedOrSkip()   // one per test process
///         try await stripe.reset()                  // DELETE /_config/data
///     }
///     func testPays() async throws {
///         let client = stripe.makeClient()
///         let intent = try await client.createPaymentIntent(
///             amountCents: 2500, currency: "gbp", metadata: [:], idempotencyKey: "k1")
///         _ = try await stripe.payAsBrowser(paymentIntentID: intent.id)  // → requires_capture
///     }
/// }
/// ```
public final class LocalStripe: @unchecked Sendable {
    // @unchecked: `process` is only touched under `lock`; everything else is immutable.

    /// The secret key every harness client sends; localstripe accepts any `sk_…`.
    /// Pass it to a server under test as its Stripe key.
    public static let secretKeyValue = "sk_test_portal_localstripe_harness"
    /// ``secretKeyValue`` as a ``StripeSecretKey``.
    public static let secretKey = StripeSecretKey(secretKeyValue)

    /// `http://127.0.0.1:<port>`: the Stripe base URL to configure.
    public let baseURL: String
    /// The port it listens on (127.0.0.1 only).
    public let port: Int
    /// Its working directory (store file and logs), removed by ``stop()``.
    public let workingDirectory: URL

    let lock = NSLock()
    var process: Process?
    private let browser: StripeClient

    init(process: Process, port: Int, workingDirectory: URL) {
        self.process = process
        self.port = port
        self.baseURL = "http://127.0.0.1:\(port)"
        self.workingDirectory = workingDirectory
        self.browser = StripeClient(
            secretKey: Self.secretKey,
            configuration: .init(
                baseURL: baseURL, connectTimeout: .seconds(2), requestTimeout: .seconds(20),
                retry: .none, maxConcurrentRequests: 1),
            logger: Logger(label: "localstripe.browser", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    deinit {
        stop()
    }

    // MARK: Clients

    /// A client configuration that talks to this server: Stripe's defaults,
    /// with short timeouts and quick retries suited to tests.
    public var clientConfiguration: StripeClient.Configuration {
        StripeClient.Configuration(
            baseURL: baseURL,
            connectTimeout: .seconds(2),
            requestTimeout: .seconds(20),
            retry: .init(maxAttempts: 3, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200)),
            maxConcurrentRequests: 2)
    }

    /// A ``StripeClient`` for this server: the harness's key and
    /// ``clientConfiguration`` unless given others, logs discarded unless given a logger.
    public func makeClient(
        secretKey: StripeSecretKey = LocalStripe.secretKey,
        configuration: StripeClient.Configuration? = nil,
        logger: Logger = Logger(label: "portal.stripe", factory: { _ in SwiftLogNoOpLogHandler() })
    ) -> StripeClient {
        StripeClient(secretKey: secretKey, configuration: configuration ?? clientConfiguration, logger: logger)
    }

    // MARK: State

    /// Forgets every object (`DELETE /_config/data`). localstripe slows down
    /// as its store grows, so call it before each test.
    public func reset() async throws {
        _ = try await browser.send(.delete, path: "/_config/data")
    }

    // MARK: What a browser does with Stripe.js

    /// Creates a card PaymentMethod and attaches it to the PaymentIntent, as
    /// Stripe.js does before confirming. Status becomes `requires_confirmation`.
    public func attach(_ card: TestCard, toPaymentIntent id: String) async throws -> PaymentIntent {
        var method = StripeForm()
        method.append("type", "card")
        method.append("card[number]", card.number)
        method.append("card[exp_month]", "12")
        method.append("card[exp_year]", String(Calendar(identifier: .gregorian).component(.year, from: Date()) + 3))
        method.append("card[cvc]", "123")
        let created = try await browser.send(.post, path: "/v1/payment_methods", form: method, idempotencyKey: Self.oneOffKey())
        let paymentMethod = try browser.decode(Identified.self, from: created)

        var update = StripeForm()
        update.append("payment_method", paymentMethod.id)
        let updated = try await browser.send(
            .post, path: "/v1/payment_intents/\(id)", form: update, idempotencyKey: Self.oneOffKey())
        return try browser.decodePaymentIntent(updated)
    }

    /// Confirms a PaymentIntent that has a payment method
    /// (`POST /v1/payment_intents/{id}/confirm`, without parameters:
    /// localstripe answers 500 to `payment_method` here). A declined card
    /// throws ``StripeError/cardError(_:)``.
    public func confirm(paymentIntent id: String) async throws -> PaymentIntent {
        let response = try await browser.send(
            .post, path: "/v1/payment_intents/\(id)/confirm", form: StripeForm(), idempotencyKey: Self.oneOffKey())
        return try browser.decodePaymentIntent(response)
    }

    /// Attaches `card` and confirms: what the client's browser does to pay.
    /// With the default card a manual-capture intent ends in `requiresCapture`;
    /// ``TestCard/threeDSecure`` ends in `requiresAction` (finish with
    /// ``authenticate(paymentIntent:clientSecret:success:)``);
    /// ``TestCard/declinedOnCharge`` throws ``StripeError/cardError(_:)``.
    @discardableResult
    public func payAsBrowser(paymentIntentID id: String, card: TestCard = .visa) async throws -> PaymentIntent {
        _ = try await attach(card, toPaymentIntent: id)
        return try await confirm(paymentIntent: id)
    }

    /// Completes (or fails) a 3-D Secure challenge of a `requiresAction`
    /// intent (`POST /v1/payment_intents/{id}/_authenticate`). Success charges
    /// the card (`requiresCapture` for manual capture); failure detaches it
    /// (`requiresPaymentMethod`).
    @discardableResult
    public func authenticate(paymentIntent id: String, clientSecret: String, success: Bool) async throws -> PaymentIntent {
        var form = StripeForm()
        form.append("client_secret", clientSecret)
        form.append("success", success ? "true" : "false")
        let response = try await browser.send(
            .post, path: "/v1/payment_intents/\(id)/_authenticate", form: form, idempotencyKey: Self.oneOffKey())
        return try browser.decodePaymentIntent(response)
    }

    /// Sends any request to this server with the harness's key, no retries;
    /// a non-2xx answer is thrown as a ``StripeError``. For endpoints the
    /// helpers above do not cover.
    package func rawRequest(
        _ method: HTTPMethod, path: String, form: StripeForm? = nil
    ) async throws -> HTTPResponse {
        try await browser.send(method, path: path, form: form, idempotencyKey: method == .post ? Self.oneOffKey() : nil)
    }

    private struct Identified: Decodable {
        var id: String
    }

    private static func oneOffKey() -> String {
        "harness-" + UUID().uuidString
    }
}

/// Stripe's test card numbers that localstripe knows.
public struct TestCard: Sendable, Hashable {
    /// The card number.
    public var number: String

    public init(number: String) {
        self.number = number
    }

    /// 4242 4242 4242 4242: always succeeds.
    public static let visa = TestCard(number: "4242424242424242")
    /// 4000 0000 0000 0341: attaches, then is declined when charged
    /// (402 `card_declined` at confirmation).
    public static let declinedOnCharge = TestCard(number: "4000000000000341")
    /// 4000 0025 0000 3155: needs 3-D Secure; confirmation ends in `requires_action`.
    public static let threeDSecure = TestCard(number: "4000002500003155")
}
