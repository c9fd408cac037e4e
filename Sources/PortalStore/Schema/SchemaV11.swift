/// Schema version 11: no index of the audit log by entity.
///
/// `audit_by_entity` (versions 1 and 7) served no query of Portal's: the
/// audit log is written, never read, by the server — an operator reads it
/// with `sqlite3` (docs/store.md). Every checkout pair appended six entries
/// to it, and the writer thread — the one queue every checkout write goes
/// through — spent ≈ 6 % of its time keeping that index (checkout 4×64,
/// A/B: docs/performance.md). A history of one entity is now a scan of the
/// log in `audit_id` order (`WHERE entity = 'booking' AND entity_id = '42'`).
let schemaV11 = """
    DROP INDEX audit_by_entity;
    """
