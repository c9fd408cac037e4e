#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import PortalMessages
import PortalWire
import XCTest

/// Idle and frame timeouts and the connection cap over real TCP.
final class ConnectionEndToEndTests: XCTestCase {
    func testIdleConnectionGetsIdleTimeoutFrameThenCloses() async throws {
        try await TestServer.with(configure: { $0.timeouts.idleTimeout = .milliseconds(200) }) { server in
            let client = try await server.connect()
            try await client.assertOK(.health(id: 1))
            let frame = try await client.nextResponse(timeout: .seconds(3))
            XCTAssertEqual(frame.id, 0)
            XCTAssertEqual(frame.reason, "IDLE_TIMEOUT")
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }

    func testConnectionWithARequestInFlightIsNotIdle() async throws {
        try await TestServer.with(configure: { $0.timeouts.idleTimeout = .milliseconds(200) }) { server in
            let client = try await server.connect()
            let response = try await client.call(.test(TestMethods.slow, id: 1, milliseconds: 600))
            XCTAssertEqual(response.code, .ok)
        }
    }

    /// A client that reads its answers slowly is not idle while they are
    /// still going out: 120 answers of 100 KB (12 MB, far more than the
    /// sockets' buffers), read 4 KB at a time over a 4-KB receive buffer,
    /// all arrive although reading them takes many idle timeouts (and
    /// more than the frame timeout, which bounds how long a closing
    /// connection waits for its last bytes to go out); then the idle
    /// timeout closes the connection.
    func testASlowReaderGetsEveryAnswerBeforeTheIdleTimeout() async throws {
        try await TestServer.with(configure: {
            // The kernel lets a writer go on only once a third of a send
            // buffer of megabytes is free (≈ 0.4 s of this reader, more on
            // a loaded machine): the idle checks must be further apart than
            // that to see progress.
            $0.timeouts.idleTimeout = .seconds(2)
            $0.timeouts.frameTimeout = .milliseconds(500)
        }) { server in
            let reader = try SlowReader(port: server.port)
            defer { reader.close() }
            let count = 120
            var requests = ByteBuffer()
            for id in 1...count {
                requests.writeFrame(
                    RequestEnvelope(
                        id: UInt64(id), method: TestMethods.large.fullName,
                        payload: HealthCheckRequest(service: "100000").serializedBytes()))
            }
            try reader.send(Array(requests.readableBytesView))
            let started = ContinuousClock.now
            var answered: Set<UInt64> = []
            var finalFrame: ResponseEnvelope?
            while let frame = try await reader.nextFrame() {
                if frame.id == 0 {
                    finalFrame = frame
                    continue
                }
                XCTAssertEqual(frame.code, .ok)
                XCTAssertEqual(try HealthCheckRequest(serializedBytes: frame.payload).service.utf8.count, 100_000)
                answered.insert(frame.id)
            }
            XCTAssertEqual(answered, Set(1...UInt64(count)), "every answer arrives before the close")
            // Then the idle timeout closes: its final frame arrives when the
            // reader takes it within the frame timeout (the sockets' own
            // buffers, megabytes here, hide how far behind it still is).
            if let finalFrame { XCTAssertEqual(finalFrame.reason, "IDLE_TIMEOUT") }
            // Reading took longer than the idle timeout and the frame timeout
            // together — when the old server closed: the test proves something.
            XCTAssertGreaterThan(ContinuousClock.now - started, .milliseconds(2600))
        }
    }

    /// A client may send its requests and shut down its sending side
    /// (half-close, as `nc -N` does): every request already sent is still
    /// answered — the running ones too — and then the server closes.
    func testAPeerThatHalfClosesGetsEveryAnswerThenTheClose() async throws {
        try await TestServer.with { server in
            let reader = try SlowReader(port: server.port)
            defer { reader.close() }
            var requests = ByteBuffer()
            requests.writeFrame(RequestEnvelope.health(id: 1))
            requests.writeFrame(RequestEnvelope.test(TestMethods.slow, id: 2, milliseconds: 300))
            requests.writeFrame(RequestEnvelope.test(TestMethods.echo, id: 3))
            requests.writeFrame(RequestEnvelope.health(id: 4))
            requests.writeBytes([0, 0, 0, 9, 1])  // a frame it will never finish
            try reader.send(Array(requests.readableBytesView))
            reader.finishSending()
            var answered: [UInt64: StatusCode] = [:]
            while let frame = try await reader.nextFrame() {
                answered[frame.id] = frame.code
            }
            XCTAssertEqual(answered, [1: .ok, 2: .ok, 3: .ok, 4: .ok], "every answer, then the close")
            try await server.assertStillServes()
        }
    }

    func testPartialFrameThenSilenceGetsFrameTimeoutThenCloses() async throws {
        try await TestServer.with(configure: { $0.timeouts.frameTimeout = .milliseconds(200) }) { server in
            let client = try await server.connect()
            try await client.send(bytes: [0, 0, 0, 50, 1, 2])
            let frame = try await client.nextResponse(timeout: .seconds(3))
            XCTAssertEqual(frame.id, 0)
            XCTAssertEqual(frame.code, .deadlineExceeded)
            XCTAssertEqual(frame.reason, "FRAME_TIMEOUT")
            try await client.expectClosed()
            try await server.assertStillServes()
        }
    }

    func testConnectionOverTheCapIsRefusedWithAFrameAndClosed() async throws {
        try await TestServer.with(configure: { $0.limits.maxConnections = 2 }) { server in
            let first = try await server.connect()
            let second = try await server.connect()
            try await first.assertOK(.health(id: 1))
            try await second.assertOK(.health(id: 1))

            let third = try await server.connect()
            let refusal = try await third.nextResponse()
            XCTAssertEqual(refusal.id, 0)
            XCTAssertEqual(refusal.code, .resourceExhausted)
            XCTAssertEqual(refusal.reason, "TOO_MANY_CONNECTIONS")
            try await third.expectClosed()

            // The admitted connections keep being served.
            try await first.assertOK(.health(id: 2))

            // Once one closes, a new connection gets in.
            await first.close()
            var admitted = false
            for _ in 0..<50 where !admitted {
                let next = try await server.connect()
                try await next.send(.health(id: 1))
                if case .frame(let response) = try await next.next(), response.id == 1 {
                    admitted = true
                }
                await next.close()
                if !admitted { try await Task.sleep(nanoseconds: 20_000_000) }
            }
            XCTAssertTrue(admitted)
        }
    }
}

/// A blocking-free POSIX client with a 4-KB receive buffer that reads at
/// most 4 KB per millisecond, and can half-close.
private final class SlowReader {
    private let fd: Int32
    private var parser = FrameParser(maximumFrameLength: 64 * 1024 * 1024)

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ClientTimeout() }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if sent > 0 {
                offset += sent
            } else if errno == EAGAIN {
                usleep(1000)
            } else {
                throw ClientTimeout()
            }
        }
    }

    /// The next whole frame, or nil once the server has closed; fails after 30 s.
    func nextFrame() async throws -> ResponseEnvelope? {
        let giveUp = ContinuousClock.now + .seconds(30)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < giveUp {
            if let frame = try parser.nextFrame() { return try ResponseEnvelope(buffer: frame) }
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got > 0 {
                var buffer = ByteBuffer(bytes: chunk[..<got])
                parser.append(&buffer)
            } else if got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                return nil
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        throw ClientTimeout()
    }

    /// Shuts down the sending side (half-close); reading goes on.
    func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    func close() { Glibc.close(fd) }
}
