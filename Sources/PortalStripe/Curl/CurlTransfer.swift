import CCurl

/// One HTTP exchange for libcurl to carry out; plain values only, so it can
/// cross to a worker thread.
struct CurlRequest: Sendable {
    var method: HTTPMethod
    var url: String
    /// Complete header lines, `Name: value`.
    var headers: [String]
    /// The body of a POST (ASCII: form-encoded).
    var body: String?
    var connectTimeoutMilliseconds: Int
    var totalTimeoutMilliseconds: Int
    var maxResponseBytes: Int
    var userAgent: String
}

/// The HTTP methods this client sends.
package enum HTTPMethod: String, Sendable {
    case get = "GET"
    case post = "POST"
    case delete = "DELETE"
}

/// A complete HTTP response.
package struct HTTPResponse: Sendable {
    /// The HTTP status code.
    package var status: Int
    /// The body bytes.
    package var body: [UInt8]
    /// Stripe's `Request-Id` header.
    package var requestID: String?
    /// `Retry-After`, in whole seconds, when the server sent one.
    package var retryAfterSeconds: Int?
    /// Stripe's `Stripe-Should-Retry` header: its advice overrides the status.
    package var stripeShouldRetry: Bool?
    /// Which attempt this response answered (1 for the first).
    package var attempt: Int = 1
}

/// What libcurl reported when the exchange did not complete.
struct CurlFailure: Sendable, Equatable {
    /// The `CURLcode`.
    var code: Int
    /// `curl_easy_strerror(code)`: a fixed text, never the URL or headers.
    var message: String
    /// The response was larger than allowed and was abandoned.
    var responseTooLarge: Bool = false

    /// How retrying should treat this failure.
    var kind: NetworkFailure.Kind {
        switch CURLcode(UInt32(code)) {
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
             CURLE_SSL_CONNECT_ERROR:
            .unreachable
        case CURLE_OPERATION_TIMEDOUT:
            .timeout
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
             CURLE_HTTP2, CURLE_HTTP2_STREAM:
            .connectionLost
        default:
            .other
        }
    }
}

/// Either a response or a transport failure.
enum CurlOutcome: Sendable {
    case response(HTTPResponse)
    case failure(CurlFailure)
}

/// Collects one transfer's body and the headers this client reads. Used by
/// the libcurl callbacks on the worker thread that runs the transfer only.
private final class ResponseSink {
    let maxBodyBytes: Int
    var body: [UInt8] = []
    var overflowed = false
    var requestID: String?
    var retryAfterSeconds: Int?
    var stripeShouldRetry: Bool?

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maxBodyBytes else {
            overflowed = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func readHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new response starts (after `100 Continue`): forget earlier headers.
            requestID = nil
            retryAfterSeconds = nil
            stripeShouldRetry = nil
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingWhitespace()
        switch name {
        case "request-id": requestID = value.isEmpty ? nil : String(value.prefix(128))
        case "retry-after": retryAfterSeconds = Int(value)
        case "stripe-should-retry": stripeShouldRetry = value == "true" ? true : (value == "false" ? false : nil)
        default: break
        }
    }
}

private let writeBody: portal_curl_data_callback = { data, size, count, context in
    let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    // Returning less than `length` makes libcurl abort with CURLE_WRITE_ERROR.
    return sink.appendBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private let readHeader: portal_curl_data_callback = { data, size, count, context in
    let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    sink.readHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
    return length
}

/// `curl_global_init` runs once per process, before the first easy handle.
private let curlGlobalInitCode: Int = Int(curl_global_init(Int(CURL_GLOBAL_DEFAULT)).rawValue)

enum CurlGlobal {
    /// Initialises libcurl once; returns whether it succeeded.
    @discardableResult
    static func initialize() -> Bool {
        curlGlobalInitCode == Int(CURLE_OK.rawValue)
    }
}

/// A libcurl easy handle owned by one worker thread. Reusing it across
/// transfers keeps its connection cache (keep-alive, TLS sessions, DNS).
final class CurlEasyHandle {
    private let handle: UnsafeMutableRawPointer?

    init() {
        CurlGlobal.initialize()
        handle = curl_easy_init()
    }

    deinit {
        if let handle { curl_easy_cleanup(handle) }
    }

    /// Carries out one exchange, blocking the calling thread until it ends.
    func perform(_ request: CurlRequest) -> CurlOutcome {
        guard let handle else {
            return .failure(Self.failure(CURLE_FAILED_INIT))
        }
        // Back to defaults for this transfer; live connections are kept.
        curl_easy_reset(handle)

        var headerList: UnsafeMutablePointer<curl_slist>?
        for line in request.headers {
            guard let appended = curl_slist_append(headerList, line) else {
                curl_slist_free_all(headerList)
                return .failure(Self.failure(CURLE_OUT_OF_MEMORY))
            }
            headerList = appended
        }
        defer { curl_slist_free_all(headerList) }

        let sink = ResponseSink(maxBodyBytes: request.maxResponseBytes)
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }

        var code = CURLE_OK
        func set(_ result: CURLcode) {
            if code == CURLE_OK { code = result }
        }
        set(portal_curl_setopt_string(handle, CURLOPT_URL, request.url))
        // Only HTTP(S), no redirects: a Stripe answer is never a redirect.
        set(portal_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(portal_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        // Signals are process-wide; a multi-threaded program must not let
        // libcurl use them for timeouts.
        set(portal_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(portal_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMilliseconds))
        set(portal_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.totalTimeoutMilliseconds))
        set(portal_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        set(portal_curl_setopt_string(handle, CURLOPT_USERAGENT, request.userAgent))
        set(portal_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
        set(portal_curl_set_write_callback(handle, writeBody, context.toOpaque()))
        set(portal_curl_set_header_callback(handle, readHeader, context.toOpaque()))
        switch request.method {
        case .get:
            set(portal_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        case .delete:
            set(portal_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "DELETE"))
        case .post:
            let body = request.body ?? ""
            set(portal_curl_setopt_long(handle, CURLOPT_POST, 1))
            set(portal_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.utf8.count)))
            // libcurl copies the body, so it need not outlive this call.
            set(portal_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, body))
        }
        guard code == CURLE_OK else {
            return .failure(Self.failure(code))
        }

        code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            var failure = Self.failure(code)
            failure.responseTooLarge = sink.overflowed
            return .failure(failure)
        }

        var status = 0
        _ = portal_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .response(HTTPResponse(
            status: status,
            body: sink.body,
            requestID: sink.requestID,
            retryAfterSeconds: sink.retryAfterSeconds,
            stripeShouldRetry: sink.stripeShouldRetry
        ))
    }

    private static func failure(_ code: CURLcode) -> CurlFailure {
        CurlFailure(code: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)))
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
