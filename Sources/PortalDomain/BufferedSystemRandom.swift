#if canImport(Glibc)
import Glibc
#endif

/// The kernel's CSPRNG, read 256 bytes at a time: the generator of hold
/// tokens and session tokens.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` system call per
/// 64-bit word — three per hold token, so three per checkout pair. This one
/// makes one call (`getentropy`, which is `getrandom`) per 32 words and
/// hands the words out, each exactly once, under a lock; a word is
/// overwritten with zero as it is handed out. The bytes are the kernel's,
/// unchanged: what it buffers is only what a caller would have read a
/// moment later. (Nothing here forks, so no two processes ever share a
/// buffer.)
///
/// On other systems it is `SystemRandomNumberGenerator`.
public struct BufferedSystemRandom: RandomNumberGenerator, Sendable {
    public init() {}

    public mutating func next() -> UInt64 {
        #if canImport(Glibc)
        Self.pool.next()
        #else
        var system = SystemRandomNumberGenerator()
        return system.next()
        #endif
    }

    #if canImport(Glibc)
    private static let pool = Pool()

    /// The words read from the kernel and not handed out yet.
    private final class Pool: Sendable {
        private struct Words {
            var words = [UInt64](repeating: 0, count: Pool.wordCount)
            var next = Pool.wordCount
        }

        /// 256 bytes: the most one `getentropy` call may ask for.
        static let wordCount = 32

        private let state = Locked(Words())

        func next() -> UInt64 {
            state.withLock { state in
                if state.next == Self.wordCount {
                    Self.fill(&state.words)
                    state.next = 0
                }
                defer {
                    state.words[state.next] = 0
                    state.next += 1
                }
                return state.words[state.next]
            }
        }

        private static func fill(_ words: inout [UInt64]) {
            let status = words.withUnsafeMutableBytes { getentropy($0.baseAddress!, $0.count) }
            // As `SystemRandomNumberGenerator` does: no randomness, no tokens.
            guard status == 0 else { fatalError("getentropy failed (errno \(errno))") }
        }
    }
    #endif
}
