import CAllocator
import Logging

/// portald's malloc. On Linux it is jemalloc, linked in with its options set
/// in `Sources/CAllocator/allocator.c` (two arenas, freed pages returned
/// within about a second by jemalloc's background thread); nothing needs
/// calling for them to apply. What is left here is saying so in the log.
enum MemoryTuning {
    /// The allocator and its options, e.g. "jemalloc 5.3.0-0-g54eaed1d…
    /// (2 arenas, dirty pages returned after 1000 ms, background thread on)".
    static var description: String {
        guard let version = portal_allocator_jemalloc_version() else { return "system malloc" }
        let name = "jemalloc " + String(cString: version)
        let arenas = portal_allocator_arenas()
        let decay = portal_allocator_dirty_decay_ms()
        let background = portal_allocator_background_thread() == 1 ? "on" : "off"
        return "\(name) (\(arenas) arenas, dirty pages returned after \(decay) ms, background thread \(background))"
    }

    static func log(to logger: Logger) {
        logger.info("memory allocator", metadata: ["allocator": "\(description)"])
    }
}
