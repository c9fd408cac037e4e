import CAllocator
import XCTest

@testable import portald

/// portald links jemalloc on Linux with the options of
/// Sources/CAllocator/allocator.c; these check they are the ones in force.
final class MemoryAllocatorTests: XCTestCase {
    func testJemallocRunsWithTheConfiguredOptions() throws {
        #if os(Linux)
        XCTAssertTrue(MemoryTuning.description.hasPrefix("jemalloc 5."), MemoryTuning.description)
        XCTAssertEqual(portal_allocator_arenas(), 2)
        XCTAssertEqual(portal_allocator_dirty_decay_ms(), 1000)
        XCTAssertEqual(portal_allocator_background_thread(), 1)
        XCTAssertTrue(
            MemoryTuning.description.hasSuffix(
                "(2 arenas, dirty pages returned after 1000 ms, background thread on)"),
            MemoryTuning.description)
        #else
        throw XCTSkip("portald links jemalloc on Linux only")
        #endif
    }

    func testMallocAndFreeAreJemallocs() throws {
        #if os(Linux)
        // Allocating 64 MiB through the Swift runtime must show in jemalloc's
        // count of this thread's allocations: that is the malloc it calls.
        let before = portal_allocator_thread_allocated_bytes()
        XCTAssertGreaterThanOrEqual(before, 0)
        let block = UnsafeMutableRawPointer.allocate(byteCount: 64 << 20, alignment: 16)
        defer { block.deallocate() }
        XCTAssertGreaterThanOrEqual(portal_allocator_thread_allocated_bytes() - before, 64 << 20)
        #else
        throw XCTSkip("portald links jemalloc on Linux only")
        #endif
    }
}
