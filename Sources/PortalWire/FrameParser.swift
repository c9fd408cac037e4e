import NIOCore

/// Why a byte stream can no longer be read as frames. Both are fatal for the
/// connection: the protocol never tries to resynchronise.
public enum FrameError: Error, Sendable, Equatable {
    /// The header announced a zero length.
    case zeroLength
    /// The header announced `length` bytes, more than `maximum`.
    case tooLarge(length: UInt32, maximum: Int)

    /// The wire error that reports this to the peer.
    public var rpcError: RPCError {
        switch self {
        case .zeroLength:
            RPCError(
                code: .invalidArgument, reason: .malformedFrame,
                message: "Frame announced a length of zero.")
        case .tooLarge(let length, let maximum):
            RPCError(
                code: .resourceExhausted, reason: .frameTooLarge,
                message: "Frame of \(length) bytes exceeds the maximum of \(maximum) bytes.",
                details: ["max_frame_bytes": String(maximum), "frame_bytes": String(length)])
        }
    }
}

/// Splits a TCP byte stream into frames: a 4-byte unsigned big-endian length
/// `N`, then `N` bytes.
///
/// The announced length is checked against `maximumFrameLength` as soon as the
/// 4 header bytes are here, before any of the body is awaited, so an oversized
/// frame is refused without ever being buffered. Bytes may arrive split
/// anywhere or many frames merged into one read.
///
/// ```swift
/// var parser = FrameParser(maximumFrameLength: 4 << 20)
/// parser.append(&incoming)
/// while let frame = try parser.nextFrame() { handle(frame) }
/// ```
public struct FrameParser: Sendable {
    /// The largest body length accepted.
    public let maximumFrameLength: Int
    private var buffer: ByteBuffer?

    /// A parser that accepts bodies of at most `maximumFrameLength` bytes.
    public init(maximumFrameLength: Int) {
        precondition(maximumFrameLength > 0 && maximumFrameLength <= Int(UInt32.max))
        self.maximumFrameLength = maximumFrameLength
    }

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: inout ByteBuffer) {
        if self.buffer == nil || self.buffer!.readableBytes == 0 {
            // Nothing pending: adopt the read buffer as is (no copy).
            self.buffer = bytes
        } else {
            self.buffer!.writeBuffer(&bytes)
        }
    }

    /// True while some bytes of an incomplete frame are buffered — the start
    /// of the window in which the rest of the frame must arrive.
    public var hasPartialFrame: Bool {
        (buffer?.readableBytes ?? 0) > 0
    }

    /// The next whole frame's body, or `nil` when more bytes are needed.
    ///
    /// The returned buffer is a slice that shares storage with the read
    /// buffer; no bytes are copied.
    public mutating func nextFrame() throws(FrameError) -> ByteBuffer? {
        guard var buffer = self.buffer,
            let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self)
        else { return nil }
        if length == 0 { throw .zeroLength }
        if Int(length) > maximumFrameLength {
            throw .tooLarge(length: length, maximum: maximumFrameLength)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        if buffer.readableBytes == 0 {
            self.buffer = nil
        } else {
            self.buffer = buffer
        }
        return frame
    }

    /// Releases buffered bytes that no longer need to be kept and shrinks the
    /// storage after a burst; call once per read burst.
    public mutating func compact() {
        if let buffer, buffer.readableBytes == 0 { self.buffer = nil }
        if buffer != nil, buffer!.readerIndex > 64 * 1024 {
            buffer!.discardReadBytes()
        }
    }
}

extension ByteBuffer {
    /// Writes `body` as one frame: its 4-byte big-endian length, then the bytes.
    @inlinable
    public mutating func writeFrame(_ body: some Collection<UInt8>) {
        self.writeInteger(UInt32(body.count), endianness: .big)
        self.writeBytes(body)
    }
}
