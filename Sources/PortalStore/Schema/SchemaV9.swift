/// Schema version 9: the "a span lasts at most a day" rule of version 4 as
/// `CHECK` constraints instead of triggers.
///
/// A `BEFORE INSERT` trigger that can `RAISE(ABORT)` makes SQLite keep a
/// statement journal for every insert into its table — a copy of each page
/// the insert touches, in case the trigger aborts it halfway. A `CHECK` is
/// tested before the row is written, so it needs none. SQLite adds a
/// `CHECK` to an existing table only with a new column, so each table gains
/// `span_at_most_a_day`, a virtual generated column (stored nowhere, never
/// read) that carries the check; `ALTER TABLE … ADD COLUMN` tests it against
/// every existing row (all pass: the triggers refused longer spans). It
/// covers updates too, so all four triggers go.
///
/// Checkout 4×64, A/B: see docs/performance.md.
let schemaV9 = """
    ALTER TABLE holds ADD COLUMN span_at_most_a_day INTEGER
        GENERATED ALWAYS AS (1) VIRTUAL CHECK (span_end - span_start <= 1440);
    ALTER TABLE bookings ADD COLUMN span_at_most_a_day INTEGER
        GENERATED ALWAYS AS (1) VIRTUAL CHECK (span_end - span_start <= 1440);
    DROP TRIGGER holds_span_at_most_a_day_on_insert;
    DROP TRIGGER holds_span_at_most_a_day_on_update;
    DROP TRIGGER bookings_span_at_most_a_day_on_insert;
    DROP TRIGGER bookings_span_at_most_a_day_on_update;
    """
