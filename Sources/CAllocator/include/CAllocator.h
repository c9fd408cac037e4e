#ifndef PORTAL_CALLOCATOR_H
#define PORTAL_CALLOCATOR_H

#include <stddef.h>

/// jemalloc's version string ("5.3.0-0-g…"), or NULL when the process does
/// not run on jemalloc (portald links it on Linux only, see allocator.c).
const char *portal_allocator_jemalloc_version(void);

/// The number of arenas jemalloc runs with ("opt.narenas"), -1 without jemalloc.
long long portal_allocator_arenas(void);

/// jemalloc's "opt.dirty_decay_ms" as applied, -2 without jemalloc.
long long portal_allocator_dirty_decay_ms(void);

/// Whether jemalloc's background purging thread is on (0 or 1), -1 without jemalloc.
int portal_allocator_background_thread(void);

/// The bytes jemalloc has handed out to the calling thread since it started
/// ("thread.allocated"), -1 without jemalloc. For tests: proves that malloc
/// is jemalloc's (other threads' allocations do not change it).
long long portal_allocator_thread_allocated_bytes(void);

#endif
