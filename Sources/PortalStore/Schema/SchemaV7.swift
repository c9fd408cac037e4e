/// Schema version 7: the audit log rebuilt without `AUTOINCREMENT` and
/// without `CHECK (json_valid(detail))`.
///
/// A checkout pair appends six audit rows. With `AUTOINCREMENT` each insert
/// also looked its table up in `sqlite_sequence` and rewrote that row, and
/// the check parsed every detail object again: together about a third of an
/// audit row's cost in the writer (docs/performance.md). Neither guarded
/// anything:
/// - Ids still only grow and are never reused: a rowid table gives a new row
///   the largest id + 1, and the triggers (re-created here) refuse every
///   `UPDATE` and `DELETE`, so the largest id never goes away.
/// - The detail is written by `AuditLog.json` alone; the tests check every
///   row of their databases with `json_valid`.
///
/// Rows are copied with their ids, in order; the copy is one pass over the
/// table, inside this migration's transaction.
let schemaV7 = """
    CREATE TABLE audit_log_v7 (
        audit_id  INTEGER PRIMARY KEY,
        entity    TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        event     TEXT    NOT NULL,
        at        INTEGER NOT NULL,
        detail    TEXT    NOT NULL DEFAULT '{}'
    ) STRICT;
    INSERT INTO audit_log_v7 (audit_id, entity, entity_id, event, at, detail)
        SELECT audit_id, entity, entity_id, event, at, detail FROM audit_log ORDER BY audit_id;
    DROP TABLE audit_log;
    ALTER TABLE audit_log_v7 RENAME TO audit_log;
    CREATE INDEX audit_by_entity ON audit_log (entity, entity_id, audit_id);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    DELETE FROM sqlite_sequence WHERE name = 'audit_log';
    """
