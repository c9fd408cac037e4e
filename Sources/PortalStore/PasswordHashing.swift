import Crypto
import CryptoExtras
import Dispatch
import PortalDomain

/// How new portal passwords are hashed: a real password KDF with a fresh
/// random salt per password.
///
/// The default is scrypt with N = 2^15, r = 8, p = 1 (32 MiB and some tens
/// of milliseconds per hash): memory-hard, so guessing is costly on GPUs
/// too. PBKDF2-HMAC-SHA256 with at least 210,000 rounds (OWASP's figure,
/// which swift-crypto enforces) is the alternative. Both are stored as a
/// self-describing string, so a policy change applies to new passwords and
/// old hashes still verify (and are upgraded at the next successful login).
public struct PasswordHashingPolicy: Hashable, Sendable {
    /// A password KDF and its cost parameters.
    public enum Algorithm: Hashable, Sendable {
        /// scrypt with N = 2^`logRounds`, block size r and parallelism p.
        case scrypt(logRounds: Int, blockSize: Int, parallelism: Int)
        /// PBKDF2 with HMAC-SHA256.
        case pbkdf2SHA256(rounds: Int)
    }

    /// The least scrypt cost accepted: N = 2^15, r = 8, p = 1.
    public static let minimumScrypt = (logRounds: 15, blockSize: 8, parallelism: 1)
    /// The most memory one scrypt hash may take (128 · N · r · p bytes): 256 MiB.
    public static let maximumScryptMemoryBytes = 256 << 20
    /// The least PBKDF2 rounds accepted: 210,000 (OWASP, and swift-crypto's own floor).
    public static let minimumPBKDF2Rounds = 210_000
    /// The most PBKDF2 rounds accepted: 10,000,000.
    public static let maximumPBKDF2Rounds = 10_000_000
    /// Random salt bytes per password: 16.
    public static let saltByteCount = 16
    /// Bytes of derived key stored: 32.
    public static let hashByteCount = 32

    /// The algorithm for new passwords.
    public var algorithm: Algorithm

    /// A policy. Use ``validated()`` (the store does) before hashing with it.
    public init(algorithm: Algorithm) { self.algorithm = algorithm }

    /// scrypt, N = 2^15, r = 8, p = 1.
    public static var `default`: PasswordHashingPolicy {
        PasswordHashingPolicy(algorithm: .scrypt(logRounds: 15, blockSize: 8, parallelism: 1))
    }

    /// The policy itself if its parameters are within the enforced bounds.
    ///
    /// - Throws: ``PortalError`` `invalidArgument` / `INVALID_CONFIGURATION`
    ///   (field `password_hashing`) for a cost below the minimum or above
    ///   the maximum.
    public func validated() throws(PortalError) -> PasswordHashingPolicy {
        guard algorithm.isWithinBounds else {
            throw .invalidArgument(
                .invalidConfiguration,
                "Password hashing needs scrypt with N >= 2^15, r >= 8, p >= 1 and at most 256 MiB, or PBKDF2-SHA256 with 210,000-10,000,000 rounds.",
                field: "password_hashing")
        }
        return self
    }
}

extension PasswordHashingPolicy.Algorithm {
    /// Whether the cost is within the enforced bounds (for new hashes and
    /// for stored ones alike: a stored hash below the floor never verifies).
    var isWithinBounds: Bool {
        switch self {
        case .scrypt(let logRounds, let blockSize, let parallelism):
            let floor = PasswordHashingPolicy.minimumScrypt
            guard logRounds >= floor.logRounds, logRounds <= 24, blockSize >= floor.blockSize,
                blockSize <= 64, parallelism >= floor.parallelism, parallelism <= 16
            else { return false }
            let memory = 128 * (1 << logRounds) * blockSize * parallelism
            return memory <= PasswordHashingPolicy.maximumScryptMemoryBytes
        case .pbkdf2SHA256(let rounds):
            return (PasswordHashingPolicy.minimumPBKDF2Rounds...PasswordHashingPolicy.maximumPBKDF2Rounds)
                .contains(rounds)
        }
    }

    /// Derives `byteCount` bytes from `password` and `salt`. Slow by design.
    func derive(_ password: [UInt8], salt: [UInt8], byteCount: Int) throws -> [UInt8] {
        let key: SymmetricKey
        switch self {
        case .scrypt(let logRounds, let blockSize, let parallelism):
            key = try KDF.Scrypt.deriveKey(
                from: password, salt: salt, outputByteCount: byteCount, rounds: 1 << logRounds,
                blockSize: blockSize, parallelism: parallelism)
        case .pbkdf2SHA256(let rounds):
            // The checked API: it refuses fewer than 210,000 rounds itself.
            key = try KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: .sha256, outputByteCount: byteCount,
                rounds: rounds)
        }
        return key.withUnsafeBytes { Array($0) }
    }
}

/// A stored password hash in a self-describing text form modelled on the PHC
/// string format, with base64url (no padding) for salt and hash:
///
/// - `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`
/// - `$pbkdf2-sha256$i=210000$<salt>$<hash>`
struct StoredPasswordHash: Hashable, Sendable {
    let algorithm: PasswordHashingPolicy.Algorithm
    let salt: [UInt8]
    let hash: [UInt8]

    init(algorithm: PasswordHashingPolicy.Algorithm, salt: [UInt8], hash: [UInt8]) {
        self.algorithm = algorithm
        self.salt = salt
        self.hash = hash
    }

    /// Parses the text form; `nil` for anything malformed.
    init?(encoded: String) {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty,
            let salt = base64URLDecode(String(parts[3])), salt.count >= 16,
            let hash = base64URLDecode(String(parts[4])), hash.count >= 16
        else { return nil }
        var parameters: [Substring: Int] = [:]
        for pair in parts[2].split(separator: ",") {
            let keyValue = pair.split(separator: "=", maxSplits: 1)
            guard keyValue.count == 2, let value = Int(keyValue[1]) else { return nil }
            parameters[keyValue[0]] = value
        }
        switch parts[1] {
        case "scrypt":
            guard parameters.count == 3, let logRounds = parameters["ln"], let r = parameters["r"],
                let p = parameters["p"]
            else { return nil }
            algorithm = .scrypt(logRounds: logRounds, blockSize: r, parallelism: p)
        case "pbkdf2-sha256":
            guard parameters.count == 1, let rounds = parameters["i"] else { return nil }
            algorithm = .pbkdf2SHA256(rounds: rounds)
        default:
            return nil
        }
        self.salt = salt
        self.hash = hash
    }

    /// The text form.
    var encoded: String {
        let head: String
        switch algorithm {
        case .scrypt(let logRounds, let blockSize, let parallelism):
            head = "$scrypt$ln=\(logRounds),r=\(blockSize),p=\(parallelism)"
        case .pbkdf2SHA256(let rounds):
            head = "$pbkdf2-sha256$i=\(rounds)"
        }
        return "\(head)$\(base64URLEncode(salt))$\(base64URLEncode(hash))"
    }
}

/// Hashes and verifies portal passwords on threads of its own.
///
/// A hash takes tens of milliseconds of CPU (and, with scrypt, tens of MiB),
/// so it never runs on an event loop, on the Swift concurrency pool, or on
/// the store's writer queue (where it would stall every other write): it
/// runs on a dedicated concurrent queue, at most `width` at a time, and
/// callers wait as suspended tasks.
final class PasswordHasher: Sendable {
    let policy: PasswordHashingPolicy
    private let lane: BlockingWorkLane
    /// How many KDF derivations have run: lets tests prove that a wrong
    /// username costs the same work as a wrong password, and a refused
    /// (rate-limited) attempt none.
    let derivationCount = Locked(0)

    init(policy: PasswordHashingPolicy, width: Int) throws(PortalError) {
        self.policy = try policy.validated()
        guard width >= 1 else {
            throw .invalidArgument(
                .invalidConfiguration, "At least one password hash must be allowed at a time.",
                field: "password_hashing_threads")
        }
        self.lane = BlockingWorkLane(label: "portal.passwords", width: width)
    }

    /// A fresh salted hash of `password` in the stored text form.
    func hash(_ password: PortalPassword) async throws -> String {
        let algorithm = policy.algorithm
        return try await lane.run { [derivationCount] in
            derivationCount.withLock { $0 += 1 }
            let salt = randomBytes(PasswordHashingPolicy.saltByteCount)
            let hash = try algorithm.derive(
                password.bytes, salt: salt, byteCount: PasswordHashingPolicy.hashByteCount)
            return StoredPasswordHash(algorithm: algorithm, salt: salt, hash: hash).encoded
        }
    }

    /// The outcome of checking a password.
    struct Verification: Sendable {
        /// Whether the password is right.
        let matches: Bool
        /// Whether the stored hash uses other parameters than the policy's
        /// (so a successful login should store a fresh hash).
        let isOutdated: Bool
    }

    /// Checks `password` against a stored hash. With `nil` (no such user)
    /// or a hash that cannot be used, it still does the same work against a
    /// dummy with the policy's parameters and answers no, so that a wrong
    /// username takes as long as a wrong password.
    func verify(_ password: PortalPassword, against encoded: String?) async throws -> Verification {
        let stored = encoded.flatMap(StoredPasswordHash.init(encoded:))
            .flatMap { $0.algorithm.isWithinBounds ? $0 : nil }
        let policyAlgorithm = policy.algorithm
        return try await lane.run { [derivationCount] in
            derivationCount.withLock { $0 += 1 }
            guard let stored else {
                let dummySalt = randomBytes(PasswordHashingPolicy.saltByteCount)
                _ = try policyAlgorithm.derive(
                    password.bytes, salt: dummySalt, byteCount: PasswordHashingPolicy.hashByteCount)
                return Verification(matches: false, isOutdated: false)
            }
            let derived = try stored.algorithm.derive(
                password.bytes, salt: stored.salt, byteCount: stored.hash.count)
            return Verification(
                matches: constantTimeEqual(derived, stored.hash),
                isOutdated: stored.algorithm != policyAlgorithm
                    || stored.salt.count != PasswordHashingPolicy.saltByteCount
                    || stored.hash.count != PasswordHashingPolicy.hashByteCount)
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices {
        difference |= lhs[index] ^ rhs[index]
    }
    return difference == 0
}

/// `count` bytes from the system CSPRNG.
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
}

/// The lowercase hex SHA-256 of a session token: what the sessions table
/// stores instead of the token.
func sessionTokenHash(_ token: SessionToken) -> String {
    let digest = SHA256.hash(data: Array(token.rawValue.utf8))
    let hex = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in digest {
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Runs blocking work on a concurrent Dispatch queue, at most `width` jobs at
/// a time; callers beyond that wait as suspended tasks (never as blocked
/// threads), first come first served.
///
/// A caller whose task is cancelled (its call's deadline passed) stops
/// waiting at once with `CancellationError`: work not yet started is
/// skipped, work already running (a KDF cannot be interrupted) finishes on
/// its thread and its result is dropped. So a `Login` past its deadline is
/// answered `DEADLINE_EXCEEDED` within the server's deadline tick, not after
/// the whole password hash.
final class BlockingWorkLane: Sendable {
    private typealias Job = @Sendable () -> Void

    private struct State {
        var available: Int
        var waiting: [Job] = []
    }

    private let queue: DispatchQueue
    private let state: Locked<State>

    init(label: String, width: Int) {
        self.queue = DispatchQueue(label: label, qos: .userInitiated, attributes: .concurrent)
        self.state = Locked(State(available: width))
    }

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        let answer = AnswerOnce<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard answer.wait(with: continuation) else { return }
                let job: Job = { [queue] in
                    guard !answer.isAnswered else {
                        self.finishOne()
                        return
                    }
                    queue.async {
                        let result = Result { try work() }
                        self.finishOne()
                        answer.resume(with: result)
                    }
                }
                let startNow = state.withLock { state -> Bool in
                    guard state.available > 0 else {
                        state.waiting.append(job)
                        return false
                    }
                    state.available -= 1
                    return true
                }
                if startNow { job() }
            }
        } onCancel: {
            answer.resume(with: .failure(CancellationError()))
        }
    }

    /// Hands the freed slot to the next waiter, or puts it back.
    private func finishOne() {
        let next = state.withLock { state -> Job? in
            if state.waiting.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?()
    }
}

/// A continuation resumed exactly once: by the work's result or by the
/// caller's cancellation, whichever comes first.
private final class AnswerOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        /// Set once answered (or cancelled before the continuation existed).
        var early: Result<T, any Error>?
        var answered = false
    }

    private let state = Locked(State())

    /// Whether it has been answered (the work need not run).
    var isAnswered: Bool { state.withLock { $0.answered } }

    /// Keeps `continuation` until the answer; returns false (after resuming
    /// it) when the answer — a cancellation — came first.
    func wait(with continuation: CheckedContinuation<T, any Error>) -> Bool {
        let early: Result<T, any Error>? = state.withLock { state in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    /// Answers with `result` unless already answered.
    func resume(with result: Result<T, any Error>) {
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard !state.answered else { return nil }
            state.answered = true
            guard let continuation = state.continuation else {
                state.early = result
                return nil
            }
            state.continuation = nil
            return continuation
        }
        continuation?.resume(with: result)
    }
}
