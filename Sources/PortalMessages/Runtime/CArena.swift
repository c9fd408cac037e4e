internal import CProtobufC

/// The memory behind one protobuf-c struct tree while it is being packed.
///
/// Every string, byte buffer, array and sub-message the encoder points the C
/// structs at is carved out of a few blocks owned by the arena, and all of it
/// is freed when the arena is. Only trivial (C) types are stored, so nothing
/// needs deinitialising.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0
    private var nextBlockSize = 512

    private static let blockAlignment = 16
    private static let maxBlockSize = 64 * 1024

    init() {}

    deinit {
        for block in blocks {
            block.deallocate()
        }
    }

    /// `byteCount` bytes aligned to `alignment`, valid until the arena is freed.
    func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let byteCount = max(byteCount, 1)
        if let cursor {
            let aligned = cursor.alignedUp(toMultipleOf: alignment)
            let padding = aligned - cursor
            if padding + byteCount <= remaining {
                self.cursor = aligned + byteCount
                remaining -= padding + byteCount
                return aligned
            }
        }
        if byteCount > nextBlockSize / 4 {
            // Large values get their own block, leaving the current one in use.
            let block = UnsafeMutableRawPointer.allocate(
                byteCount: byteCount, alignment: max(alignment, Self.blockAlignment))
            blocks.append(block)
            return block
        }
        let block = UnsafeMutableRawPointer.allocate(byteCount: nextBlockSize, alignment: Self.blockAlignment)
        blocks.append(block)
        let aligned = block.alignedUp(toMultipleOf: alignment)
        let used = (aligned - block) + byteCount
        cursor = block + used
        remaining = nextBlockSize - used
        nextBlockSize = min(nextBlockSize * 2, Self.maxBlockSize)
        return aligned
    }

    /// Uninitialised memory for `count` values of the trivial type `T`.
    func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        assert(_isPOD(T.self), "the arena never deinitialises what it holds")
        return allocate(byteCount: MemoryLayout<T>.stride * count, alignment: MemoryLayout<T>.alignment)
            .bindMemory(to: T.self, capacity: count)
    }

    /// A NUL-terminated copy of `string`. protobuf-c measures strings with
    /// `strlen`, so each U+0000 is replaced by U+FFFD rather than silently
    /// cutting the string short.
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        let hasNUL = string.withUTF8 { $0.contains(0) }
        if hasNUL {
            var scalars = String.UnicodeScalarView()
            for scalar in string.unicodeScalars {
                scalars.append(scalar == "\0" ? "\u{FFFD}" : scalar)
            }
            string = String(scalars)
        }
        return string.withUTF8 { utf8 in
            let copy = allocate(CChar.self, count: utf8.count + 1)
            if let source = utf8.baseAddress {
                UnsafeMutableRawPointer(copy).copyMemory(from: source, byteCount: utf8.count)
            }
            copy[utf8.count] = 0
            return copy
        }
    }

    /// A protobuf-c `bytes` value holding a copy of `bytes`.
    func binaryData(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        let copy = allocate(UInt8.self, count: bytes.count)
        bytes.withUnsafeBufferPointer { source in
            if let base = source.baseAddress {
                copy.initialize(from: base, count: source.count)
            }
        }
        return ProtobufCBinaryData(len: bytes.count, data: copy)
    }

    /// A C array holding `values` (for repeated scalar fields).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let copy = allocate(T.self, count: values.count)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress {
                copy.initialize(from: base, count: source.count)
            }
        }
        return copy
    }

    /// A C array holding `transform` of each value.
    func array<Value, T>(_ values: [Value], _ transform: (Value) -> T) -> UnsafeMutablePointer<T> {
        let copy = allocate(T.self, count: values.count)
        for (index, value) in values.enumerated() {
            (copy + index).initialize(to: transform(value))
        }
        return copy
    }

    /// `message` as a C struct: `__init`-ed, then filled.
    func cMessage<M: CBridgedMessage>(_ message: M) -> UnsafeMutablePointer<M.CMessage> {
        let cMessage = allocate(M.CMessage.self, count: 1)
        M.cInit(cMessage)
        message.copy(into: cMessage, arena: self)
        return cMessage
    }

    /// A repeated message field: an array of pointers to C structs.
    func cMessages<M: CBridgedMessage>(_ messages: [M]) -> UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?> {
        array(messages) { Optional(cMessage($0)) }
    }

    /// A `map<string, string>` field: an array of pointers to entry structs,
    /// sorted by key so that the encoding is deterministic. Empty keys and
    /// values keep the entry's default (protobuf-c's empty string), so they are
    /// omitted from the entry like any proto3 default.
    func mapEntries<Entry>(
        _ map: [String: String],
        initialize: (UnsafeMutablePointer<Entry>?) -> Void,
        key keyField: WritableKeyPath<Entry, UnsafeMutablePointer<CChar>?>,
        value valueField: WritableKeyPath<Entry, UnsafeMutablePointer<CChar>?>
    ) -> UnsafeMutablePointer<UnsafeMutablePointer<Entry>?> {
        let keys = map.keys.sorted()
        return array(keys) { key -> UnsafeMutablePointer<Entry>? in
            let entry = allocate(Entry.self, count: 1)
            initialize(entry)
            if !key.isEmpty { entry.pointee[keyPath: keyField] = cString(key) }
            let value = map[key]!
            if !value.isEmpty { entry.pointee[keyPath: valueField] = cString(value) }
            return entry
        }
    }
}
