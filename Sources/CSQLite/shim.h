#ifndef PORTAL_CSQLITE_SHIM_H
#define PORTAL_CSQLITE_SHIM_H
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift
 * cannot import. These typed wrappers bind text and blobs with it, so SQLite
 * copies the bytes before the call returns and Swift's buffers may go away. */
static inline int csqlite_bind_text_transient(sqlite3_stmt *stmt, int index,
                                              const char *text, int byteCount) {
    return sqlite3_bind_text(stmt, index, text, byteCount, SQLITE_TRANSIENT);
}

static inline int csqlite_bind_blob_transient(sqlite3_stmt *stmt, int index,
                                              const void *bytes, int byteCount) {
    return sqlite3_bind_blob(stmt, index, bytes, byteCount, SQLITE_TRANSIENT);
}

/* Turns SQLite's memory statistics off. With them on (the library's
 * default), every sqlite3_malloc and sqlite3_free takes one process-wide
 * mutex to keep the counts, so the writer, the readers and the checkpointer
 * contend on it. sqlite3_config is variadic (Swift cannot call it) and only
 * works before the library initialises, i.e. before the first connection
 * opens; it returns SQLITE_MISUSE after that. */
static inline int csqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* A WAL hook that only records how many frames the write-ahead log holds
 * after each commit (SQLite calls it on the committing thread, right after
 * the commit), so that the store can ask its checkpointer to run instead of
 * checkpointing on the writer's thread. */
static int csqlite_record_wal_frames(void *frames, sqlite3 *db, const char *name, int count) {
    (void)db;
    (void)name;
    *(int *)frames = count;
    return SQLITE_OK;
}

static inline void *csqlite_track_wal_frames(sqlite3 *db, int *frames) {
    return sqlite3_wal_hook(db, csqlite_record_wal_frames, frames);
}

#endif
