#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// What one in-flight slot of a connection sends, and what it makes of the
/// answer. A slot always uses the same request id (its index + 1), so ids
/// rotate through a fixed set and frames can be built once.
protocol SlotDriver: AnyObject {
    /// Appends the next request frame (4-byte length included) carrying `id`.
    func appendRequest(id: UInt64, to buffer: inout [UInt8])
    /// The answer to the slot's last request. Returns true when it completed
    /// one operation of the scenario (a request; or, for checkout, a pair).
    func received(code: Int32, payload: UnsafeRawBufferPointer) -> Bool
    /// Which of the scenario's steps the last request was (an index into
    /// ``LoadTally/stepNames``), when the scenario has more than one.
    var currentStep: Int? { get }
}

extension SlotDriver {
    var currentStep: Int? { nil }
}

/// A slot that sends one pre-encoded frame with its id already in place.
final class PrebuiltSlot: SlotDriver {
    private let frame: [UInt8]

    init(frame: [UInt8]) { self.frame = frame }

    func appendRequest(id: UInt64, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: frame)
    }

    func received(code: Int32, payload: UnsafeRawBufferPointer) -> Bool { true }
}

/// Counts and latencies of one engine thread (merged at the end).
struct LoadTally {
    var latencies = LatencyRecorder()
    /// The steps a scenario's slots report (``SlotDriver/currentStep``).
    static let stepNames = ["StartCheckout", "FinalizeCheckout", "ListBlocks", "CancelCheckout"]
    /// Latencies per step, for scenarios of more than one kind of request.
    var stepLatencies = [LatencyRecorder?](repeating: nil, count: LoadTally.stepNames.count)
    /// Answers received in the measured window.
    var responses: UInt64 = 0
    /// Scenario operations completed in the measured window.
    var operations: UInt64 = 0
    /// Answers by status code (0–16; 17 = anything else).
    var codes = [UInt64](repeating: 0, count: 18)
    /// Refusals by their reason (`Status.reason`), when the answers carry one.
    var reasons: [String: UInt64] = [:]
    /// Frames the generator could not match (id 0 frames, unknown ids, bad encoding).
    var protocolErrors: UInt64 = 0
    /// Connections the server closed during the run.
    var closedConnections: UInt64 = 0

    mutating func merge(_ other: LoadTally) {
        latencies.merge(other.latencies)
        for (index, step) in other.stepLatencies.enumerated() {
            guard let step else { continue }
            if stepLatencies[index] == nil { stepLatencies[index] = LatencyRecorder() }
            stepLatencies[index]!.merge(step)
        }
        responses += other.responses
        operations += other.operations
        for index in codes.indices { codes[index] += other.codes[index] }
        reasons.merge(other.reasons, uniquingKeysWith: +)
        protocolErrors += other.protocolErrors
        closedConnections += other.closedConnections
    }
}

/// One TCP connection of the generator: a non-blocking socket, an inbound
/// buffer, an outbound batch, and the send time of each slot.
final class RawConnection {
    let fd: Int32
    let slots: [any SlotDriver]
    var sentAt: [UInt64]
    var inFlight = 0
    var isOpen = true
    private var inbound: UnsafeMutablePointer<UInt8>
    private var inboundCapacity: Int
    private var inboundStart = 0
    private var inboundEnd = 0
    var outbound: [UInt8] = []
    private var outboundStart = 0

    init(fd: Int32, slots: [any SlotDriver]) {
        self.fd = fd
        self.slots = slots
        self.sentAt = [UInt64](repeating: 0, count: slots.count)
        self.inboundCapacity = 256 * 1024
        self.inbound = .allocate(capacity: inboundCapacity)
        outbound.reserveCapacity(64 * 1024)
    }

    deinit {
        inbound.deallocate()
        if isOpen { close(fd) }
    }

    var hasPendingOutput: Bool { outboundStart < outbound.count }

    /// Queues the first request of every slot.
    func primeAll(now: UInt64) {
        for (index, slot) in slots.enumerated() {
            slot.appendRequest(id: UInt64(index + 1), to: &outbound)
            sentAt[index] = now
            inFlight += 1
        }
    }

    /// Reads what is there and handles every whole frame. Returns false when
    /// the connection closed.
    func readAvailable(
        now: UInt64, record: Bool, sendMore: Bool, tally: inout LoadTally
    ) -> Bool {
        while true {
            if inboundEnd == inboundCapacity { growInbound() }
            let space = inboundCapacity - inboundEnd
            let count = read(fd, inbound + inboundEnd, space)
            if count > 0 {
                inboundEnd += count
                parseFrames(now: now, record: record, sendMore: sendMore, tally: &tally)
                // A short read means the socket is drained for now.
                if count < space { return true }
                continue
            }
            if count == 0 { return false }
            if errno == EAGAIN || errno == EWOULDBLOCK { return true }
            if errno == EINTR { continue }
            return false
        }
    }

    private func growInbound() {
        if inboundStart > 0 {
            let live = inboundEnd - inboundStart
            memmove(inbound, inbound + inboundStart, live)
            inboundStart = 0
            inboundEnd = live
            if live < inboundCapacity { return }
        }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: inboundCapacity * 2)
        bigger.update(from: inbound, count: inboundEnd)
        inbound.deallocate()
        inbound = bigger
        inboundCapacity *= 2
    }

    private func parseFrames(now: UInt64, record: Bool, sendMore: Bool, tally: inout LoadTally) {
        while inboundEnd - inboundStart >= 4 {
            let header = inbound + inboundStart
            let length =
                Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
            guard inboundEnd - inboundStart >= 4 + length else {
                if 4 + length > inboundCapacity - inboundStart { growInbound() }
                return
            }
            let body = UnsafeRawBufferPointer(start: header + 4, count: length)
            inboundStart += 4 + length
            handle(body, now: now, record: record, sendMore: sendMore, tally: &tally)
        }
        if inboundStart == inboundEnd {
            inboundStart = 0
            inboundEnd = 0
        }
    }

    private func handle(
        _ body: UnsafeRawBufferPointer, now: UInt64, record: Bool, sendMore: Bool,
        tally: inout LoadTally
    ) {
        guard let answer = ResponseView(body), answer.id >= 1, answer.id <= UInt64(slots.count) else {
            if record { tally.protocolErrors += 1 }
            return
        }
        let index = Int(answer.id - 1)
        inFlight -= 1
        let slot = slots[index]
        let step = record ? slot.currentStep : nil
        let completed = slot.received(code: answer.code, payload: answer.payload)
        if record {
            tally.responses += 1
            if completed { tally.operations += 1 }
            tally.codes[answer.code >= 0 && answer.code <= 16 ? Int(answer.code) : 17] += 1
            if answer.code != 0, answer.reason.count > 0 {
                tally.reasons[String(decoding: answer.reason, as: UTF8.self), default: 0] += 1
            }
            tally.latencies.record(nanoseconds: now &- sentAt[index])
            if let step {
                if tally.stepLatencies[step] == nil { tally.stepLatencies[step] = LatencyRecorder() }
                tally.stepLatencies[step]!.record(nanoseconds: now &- sentAt[index])
            }
        }
        if sendMore {
            slot.appendRequest(id: answer.id, to: &outbound)
            sentAt[index] = now
            inFlight += 1
        }
    }

    /// Writes as much of the outbound batch as the socket takes. Returns
    /// false when the connection failed.
    func flush() -> Bool {
        while outboundStart < outbound.count {
            let written = outbound.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + outboundStart, raw.count - outboundStart)
            }
            if written > 0 {
                outboundStart += written
                continue
            }
            if written < 0, errno == EINTR { continue }
            if written < 0, errno == EAGAIN || errno == EWOULDBLOCK { return true }
            return false
        }
        outbound.removeAll(keepingCapacity: true)
        outboundStart = 0
        return true
    }

    func closeNow() {
        guard isOpen else { return }
        isOpen = false
        close(fd)
    }
}

/// The few fields of a `ResponseEnvelope` the generator needs, read straight
/// from the frame: `id` (1), `status.code` (2.1), `status.reason` (2.3),
/// `payload` (3).
struct ResponseView {
    var id: UInt64 = 0
    var code: Int32 = 0
    var reason = UnsafeRawBufferPointer(start: nil, count: 0)
    var payload = UnsafeRawBufferPointer(start: nil, count: 0)

    init?(_ bytes: UnsafeRawBufferPointer) {
        var reader = WireCursor(bytes)
        while !reader.isAtEnd {
            guard let tag = reader.varint() else { return nil }
            switch (tag >> 3, tag & 7) {
            case (1, 0):
                guard let value = reader.varint() else { return nil }
                id = value
            case (2, 2):
                guard let status = reader.lengthDelimited() else { return nil }
                var inner = WireCursor(status)
                while !inner.isAtEnd {
                    guard let innerTag = inner.varint() else { return nil }
                    if innerTag == 0x08 {
                        guard let value = inner.varint() else { return nil }
                        code = Int32(truncatingIfNeeded: value)
                    } else if innerTag == 0x1A {
                        guard let value = inner.lengthDelimited() else { return nil }
                        reason = value
                    } else if !inner.skip(wireType: innerTag & 7) {
                        return nil
                    }
                }
            case (3, 2):
                guard let value = reader.lengthDelimited() else { return nil }
                payload = value
            default:
                if !reader.skip(wireType: tag & 7) { return nil }
            }
        }
    }
}

/// A bounds-checked reader of protobuf wire bytes.
struct WireCursor {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
        guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
        let start = offset
        offset += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
    }

    mutating func skip(wireType: UInt64) -> Bool {
        switch wireType {
        case 0: return varint() != nil
        case 1: return advance(8)
        case 2: return lengthDelimited() != nil
        case 5: return advance(4)
        default: return false
        }
    }

    private mutating func advance(_ count: Int) -> Bool {
        guard bytes.count - offset >= count else { return false }
        offset += count
        return true
    }
}

/// A closed loop over a set of connections on one thread: every answer
/// immediately sends that slot's next request; reads and writes are batched
/// per connection with `poll(2)`.
final class RawLoadEngine {
    let connections: [RawConnection]

    init(connections: [RawConnection]) {
        self.connections = connections
    }

    /// Runs warm-up then the measured window; returns the measured tally.
    /// `measureStart` and `measureEnd` are monotonic nanoseconds.
    func run(measureStart: UInt64, measureEnd: UInt64, drainGrace: UInt64) -> LoadTally {
        var tally = LoadTally()
        var descriptors = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let start = monotonicNanoseconds()
        for connection in connections {
            connection.primeAll(now: start)
            if !connection.flush() { connection.closeNow() }
        }
        while true {
            let now = monotonicNanoseconds()
            let sendMore = now < measureEnd
            if !sendMore {
                let idle = connections.allSatisfy { !$0.isOpen || $0.inFlight == 0 }
                if idle || now >= measureEnd + drainGrace { break }
            }
            for index in descriptors.indices {
                let connection = connections[index]
                descriptors[index].fd = connection.isOpen ? connection.fd : -1
                descriptors[index].events = Int16(POLLIN) | (connection.hasPendingOutput ? Int16(POLLOUT) : 0)
                descriptors[index].revents = 0
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), 50)
            if ready <= 0 { continue }
            let readAt = monotonicNanoseconds()
            let record = readAt >= measureStart && readAt < measureEnd
            let sending = readAt < measureEnd
            for index in descriptors.indices where descriptors[index].revents != 0 {
                let connection = connections[index]
                guard connection.isOpen else { continue }
                let events = descriptors[index].revents
                var alive = true
                if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    alive = connection.readAvailable(
                        now: readAt, record: record, sendMore: sending, tally: &tally)
                }
                if alive { alive = connection.flush() }
                if !alive {
                    connection.closeNow()
                    tally.closedConnections += 1
                }
            }
        }
        return tally
    }
}

/// Opens a blocking TCP connection to a loopback address, then makes it
/// non-blocking with `TCP_NODELAY`.
func connectLoopback(host: String, port: Int) throws -> Int32 {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
        throw BenchError("cannot resolve \(host)")
    }
    defer { freeaddrinfo(list) }
    let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
        let message = String(cString: strerror(errno))
        close(fd)
        throw BenchError("connect to \(host):\(port): \(message)")
    }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    let flags = fcntl(fd, F_GETFL)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    return fd
}

/// Raises the open-file limit as far as the hard limit allows (1,000 idle
/// connections need more than the usual 1,024 soft limit).
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
