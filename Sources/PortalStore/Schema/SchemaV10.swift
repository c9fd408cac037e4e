/// Schema version 10: no index of every booking by date.
///
/// `bookings_by_date` (version 1) served one query, the staff's bookings of
/// a day (`ListBookings`), and cost every checkout: its insertion points are
/// the day's start times, so each booking dirtied a page of its own in most
/// groups. A booking with a block lies on its block's date (both are set
/// together, on insert and on reschedule, and a block's date never
/// changes), so that query now goes through the day's blocks
/// (`blocks_by_date`, then `bookings_by_block_client`), and the few
/// bookings that lost their block — cancelled ones whose block was deleted
/// (`ON DELETE SET NULL`) — through `bookings_without_block`, an index of
/// those alone that no checkout touches.
///
/// Checkout 4×64, A/B: see docs/performance.md.
let schemaV10 = """
    DROP INDEX bookings_by_date;
    CREATE INDEX bookings_without_block ON bookings (date, start_minute, booking_id) WHERE block_id IS NULL;
    """
