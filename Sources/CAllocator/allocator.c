// portald's malloc: jemalloc on Linux (linked by Package.swift; Debian's
// libjemalloc-dev, installed by scripts/bootstrap.sh).
//
// Why: under checkout load glibc's malloc and free were ≈ 10–15 % of the
// server's CPU — every call's buffers, tasks and SQLite statements allocate on
// one thread and are freed on another, which takes the owning arena's lock.
// docs/performance.md has the A/B (same binary, glibc vs jemalloc).
//
// The options, read by jemalloc before its first allocation (MALLOC_CONF in
// the environment still overrides any of them):
// - narenas:2 — one arena per core instead of four: fewer half-empty arenas,
//   lower RSS; the cores are what limits throughput, not arena locks.
// - background_thread:true, dirty_decay_ms:1000, muzzy_decay_ms:0 — freed
//   pages go back to the system within about a second, from jemalloc's own
//   thread, so that RSS falls back after a burst (thousands of calls in
//   flight, a 32 MiB scrypt hash) even when the server then sits idle.
#include "CAllocator.h"

#if defined(__linux__)
#include <jemalloc/jemalloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

const char *malloc_conf = "narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

const char *portal_allocator_jemalloc_version(void) {
    const char *version = NULL;
    size_t size = sizeof(version);
    if (mallctl("version", &version, &size, NULL, 0) != 0) return NULL;
    return version;
}

long long portal_allocator_arenas(void) {
    unsigned arenas = 0;
    size_t size = sizeof(arenas);
    if (mallctl("opt.narenas", &arenas, &size, NULL, 0) != 0) return -1;
    return (long long)arenas;
}

long long portal_allocator_dirty_decay_ms(void) {
    ssize_t milliseconds = 0;
    size_t size = sizeof(milliseconds);
    if (mallctl("opt.dirty_decay_ms", &milliseconds, &size, NULL, 0) != 0) return -2;
    return (long long)milliseconds;
}

long long portal_allocator_thread_allocated_bytes(void) {
    uint64_t allocated = 0;
    size_t size = sizeof(allocated);
    if (mallctl("thread.allocated", &allocated, &size, NULL, 0) != 0) return -1;
    return (long long)allocated;
}

int portal_allocator_background_thread(void) {
    bool enabled = false;
    size_t size = sizeof(enabled);
    if (mallctl("background_thread", &enabled, &size, NULL, 0) != 0) return -1;
    return enabled ? 1 : 0;
}
#else
const char *portal_allocator_jemalloc_version(void) { return NULL; }
long long portal_allocator_arenas(void) { return -1; }
long long portal_allocator_dirty_decay_ms(void) { return -2; }
int portal_allocator_background_thread(void) { return -1; }
long long portal_allocator_thread_allocated_bytes(void) { return -1; }
#endif
