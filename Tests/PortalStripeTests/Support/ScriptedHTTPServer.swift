import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers from a script, records
/// what it received and counts connections. For the client behaviours that a
/// real Stripe peer cannot be made to show on demand (a 500 then a 200, a
/// 429, `Stripe-Should-Retry`); everything else is tested against localstripe.
final class ScriptedHTTPServer: @unchecked Sendable {
    // @unchecked: mutable state is only touched under `lock`.

    struct Reply {
        var status: Int
        var headers: [String: String] = [:]
        var body: String = "{}"
    }

    struct Received {
        var method: String
        var path: String
        /// Header names lower-cased.
        var headers: [String: String]
        var body: String
    }

    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var script: [Reply]
    private var received: [Received] = []
    private var connections = 0
    private var stopped = false

    /// Answers with `script` in order, then with 500s.
    init(script: [Reply]) throws {
        self.script = script
        (listener, port) = try bindLoopbackSocket(listening: true)
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    var requests: [Received] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    var connectionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return connections
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func serve() {
        while !isStopped {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            lock.lock()
            connections += 1
            lock.unlock()
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            handle(connection)
            close(connection)
        }
    }

    /// Serves requests on one keep-alive connection until the client closes it.
    private func handle(_ connection: Int32) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !isStopped {
            if let request = parse(&buffer) {
                let reply = nextReply(recording: request)
                var text = "HTTP/1.1 \(reply.status) Scripted\r\nContent-Type: application/json\r\n"
                text += "Content-Length: \(reply.body.utf8.count)\r\n"
                for (name, value) in reply.headers { text += "\(name): \(value)\r\n" }
                text += "\r\n" + reply.body
                let bytes = Array(text.utf8)
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                continue
            }
            let count = recv(connection, &chunk, chunk.count, 0)
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                return
            }
        }
    }

    private func nextReply(recording request: Received) -> Reply {
        lock.lock()
        defer { lock.unlock() }
        received.append(request)
        return script.isEmpty ? Reply(status: 500) : script.removeFirst()
    }

    /// Takes one complete request off the front of `buffer`, if there is one.
    private func parse(_ buffer: inout [UInt8]) -> Received? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = buffer.indices.dropLast(3).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) else {
            return nil
        }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = end + 4
        guard buffer.count >= bodyStart + length else { return nil }
        let body = String(decoding: buffer[bodyStart..<bodyStart + length], as: UTF8.self)
        buffer.removeFirst(bodyStart + length)
        return Received(
            method: requestLine.count > 0 ? String(requestLine[0]) : "",
            path: requestLine.count > 1 ? String(requestLine[1]) : "",
            headers: headers,
            body: body)
    }
}

/// A listening socket that never accepts: connections complete (the kernel
/// queues them) but no answer ever comes, so every request times out.
final class SilentListener {
    let port: Int
    private let fd: Int32

    init() throws {
        (fd, port) = try bindLoopbackSocket(listening: true)
    }

    deinit {
        close(fd)
    }
}

/// A 127.0.0.1 port that refuses connections for as long as this object
/// lives: it is bound (so nobody else can take it) but never listens.
final class RefusingPort {
    let port: Int
    private let fd: Int32

    init() throws {
        (fd, port) = try bindLoopbackSocket(listening: false)
    }

    deinit {
        close(fd)
    }
}

/// A TCP socket bound to 127.0.0.1 on a port the kernel picks.
private func bindLoopbackSocket(listening: Bool) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
