import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// glibc malloc settings for a long-running server (Linux only).
enum MemoryTuning {
    /// Applies them; call once, first thing in `main`.
    ///
    /// - A fixed mmap threshold: blocks of 256 KiB and more are mapped and
    ///   given back to the system when freed. Left to itself, glibc raises
    ///   the threshold to the size of the largest mapped block freed (a
    ///   scrypt password hash takes 32 MiB), after which such blocks come
    ///   from the heap and stay resident: RSS sat near 200 MiB after the
    ///   logins of a benchmark's clients.
    /// - At most 4 malloc arenas instead of 8 per core: the store's Dispatch
    ///   threads each grabbed one, and freed memory stays in the arena of the
    ///   thread that freed it.
    static func apply() {
        #if canImport(Glibc)
        // <malloc.h> is not in the Glibc module: look mallopt up by name.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
        let arenaMax: Int32 = -8  // M_ARENA_MAX
        _ = mallopt(mmapThreshold, 256 * 1024)
        _ = mallopt(arenaMax, 4)
        #endif
    }
}

/// Gives the memory that malloc keeps free back to the system every
/// `interval` (glibc's `malloc_trim`), so that RSS comes back down after a
/// burst of load (thousands of calls in flight) instead of staying at its
/// peak. A no-op where there is no glibc.
struct MemoryTrimmer: Service {
    var interval: Duration = .seconds(10)

    func run() async throws {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        let mallocTrim = unsafeBitCast(symbol, to: MallocTrim.self)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            _ = mallocTrim(0)
        }
        #endif
    }
}
