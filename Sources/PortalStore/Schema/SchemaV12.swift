/// Schema version 12: a new booking's `booked` count is raised by the one
/// function that inserts bookings, not by a trigger.
///
/// `bookings_booked_on_insert` (version 4) made SQLite keep a statement
/// journal — a copy of every page the statement touches: the table's leaf,
/// each index's, the capacity row's — for every booking inserted, and run
/// the trigger's program, ≈ 10 µs of the writer per booking (checkout:
/// docs/performance.md). `PortalStore.insertConfirmedBooking` now inserts
/// the row and raises the count of its block and service in the same
/// transaction, with the same `UPDATE` the trigger ran; nothing else in
/// Portal inserts bookings. Updates (status, block, service) and deletes
/// still keep the count through their triggers, and
/// `block_capacities_booked_on_insert` still counts a new capacity row's
/// bookings.
let schemaV12 = """
    DROP TRIGGER bookings_booked_on_insert;
    """
