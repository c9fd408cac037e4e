/// Schema version 8: one client-keyed index fewer on every booking.
///
/// `bookings_by_client_date` (version 3: a client's bookings by date) served
/// only `ListMyBookings`, which `bookings_by_client_span` (version 4, for
/// the overlap check) serves as well: `EXPLAIN QUERY PLAN` → `SEARCH k USING
/// INDEX bookings_by_client_span (client_id=?)` and a sort of that client's
/// few rows. Every booking entered it at a page picked by its client — a
/// page of its own to write in most groups. Checkout 4×64, A/B alternating
/// four times: median ≈ 5,500 → 6,170 pairs/s (docs/performance.md).
let schemaV8 = """
    DROP INDEX bookings_by_client_date;
    """
