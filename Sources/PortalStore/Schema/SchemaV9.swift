/// Schema version 9: the "a span lasts at most a day" rule of version 4 as
/// `CHECK` constraints instead of triggers.
///
/// A trigger on an insert makes SQLite keep a statement journal for every
/// insert into its table that could abort — a copy of each page the insert
/// touches, in case it must be undone halfway — and run the trigger's
/// program for every row. A `CHECK` is tested before the row is written, in
/// the insert's own program. So inserts into `holds` (no other trigger)
/// keep no statement journal any more; those into `bookings` still do, for
/// the `booked` counter's trigger, but no longer run a second trigger
/// program.
///
/// SQLite adds a `CHECK` to an existing table only with a new column, so
/// each table gains `span_at_most_a_day`, a virtual generated column (stored
/// nowhere, never read) that carries the check; `ALTER TABLE … ADD COLUMN`
/// tests it against every existing row (all pass: the triggers refused
/// longer spans). It covers updates too, so all four triggers go.
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
