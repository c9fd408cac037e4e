/// Schema version 4: what keeps the writer's capacity and overlap checks
/// independent of how many bookings exist.
///
/// - `block_capacities.booked`: the confirmed bookings of the row's block and
///   service, kept by triggers on every change of `bookings` (insert, delete,
///   a change of status, block or service) and re-counted when a capacity
///   row is inserted, so that ``Query/usage(_:block:service:now:)`` reads one
///   row instead of counting the block's bookings. Backfilled here.
/// - spans are at most a day long (1440 minutes, `PortalStore.longestSpanMinutes`):
///   triggers refuse a hold or booking whose `span_end - span_start` is
///   longer. Every row already satisfies it (a span is the service's or the
///   booking's duration, both `CHECK`ed to 1–1440), and the overlap check
///   relies on it to look only at rows starting less than a day before the
///   target span.
/// - `blocks.date` never changes (no operation changes it; a trigger makes
///   that a rule): a booking's span lies on its block's date, which lets the
///   overlap check find the bookings that matter through the blocks of a few
///   dates.
/// - `bookings_by_block` gains `client_id` (a client's bookings in one
///   block without walking the block's others), and `bookings_by_client`
///   gains `span_end` (the overlap test answered from the index).
let schemaV4 = """
    ALTER TABLE block_capacities
        ADD COLUMN booked INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0);
    UPDATE block_capacities SET booked = (
        SELECT count(*) FROM bookings k
        WHERE k.block_id = block_capacities.block_id
          AND k.service_code = block_capacities.service_code
          AND k.status = 'confirmed');

    -- A new capacity row starts from what is already booked (normally none).
    CREATE TRIGGER block_capacities_booked_on_insert AFTER INSERT ON block_capacities
    BEGIN
        UPDATE block_capacities SET booked = (
            SELECT count(*) FROM bookings k
            WHERE k.block_id = NEW.block_id AND k.service_code = NEW.service_code
              AND k.status = 'confirmed')
        WHERE block_id = NEW.block_id AND service_code = NEW.service_code;
    END;
    CREATE TRIGGER bookings_booked_on_insert AFTER INSERT ON bookings
    WHEN NEW.status = 'confirmed'
    BEGIN
        UPDATE block_capacities SET booked = booked + 1
        WHERE block_id = NEW.block_id AND service_code = NEW.service_code;
    END;
    CREATE TRIGGER bookings_booked_on_delete AFTER DELETE ON bookings
    WHEN OLD.status = 'confirmed'
    BEGIN
        UPDATE block_capacities SET booked = booked - 1
        WHERE block_id = OLD.block_id AND service_code = OLD.service_code;
    END;
    CREATE TRIGGER bookings_booked_on_update AFTER UPDATE OF status, block_id, service_code ON bookings
    WHEN OLD.status = 'confirmed' OR NEW.status = 'confirmed'
    BEGIN
        UPDATE block_capacities SET booked = booked - 1
        WHERE OLD.status = 'confirmed'
          AND block_id = OLD.block_id AND service_code = OLD.service_code;
        UPDATE block_capacities SET booked = booked + 1
        WHERE NEW.status = 'confirmed'
          AND block_id = NEW.block_id AND service_code = NEW.service_code;
    END;

    CREATE TRIGGER holds_span_at_most_a_day_on_insert BEFORE INSERT ON holds
    WHEN NEW.span_end - NEW.span_start > 1440
    BEGIN SELECT RAISE(ABORT, 'a hold spans at most 1440 minutes'); END;
    CREATE TRIGGER holds_span_at_most_a_day_on_update BEFORE UPDATE OF span_start, span_end ON holds
    WHEN NEW.span_end - NEW.span_start > 1440
    BEGIN SELECT RAISE(ABORT, 'a hold spans at most 1440 minutes'); END;
    CREATE TRIGGER bookings_span_at_most_a_day_on_insert BEFORE INSERT ON bookings
    WHEN NEW.span_end - NEW.span_start > 1440
    BEGIN SELECT RAISE(ABORT, 'a booking spans at most 1440 minutes'); END;
    CREATE TRIGGER bookings_span_at_most_a_day_on_update BEFORE UPDATE OF span_start, span_end ON bookings
    WHEN NEW.span_end - NEW.span_start > 1440
    BEGIN SELECT RAISE(ABORT, 'a booking spans at most 1440 minutes'); END;
    CREATE TRIGGER blocks_date_is_fixed BEFORE UPDATE OF date ON blocks
    WHEN NEW.date IS NOT OLD.date
    BEGIN SELECT RAISE(ABORT, 'the date of a block never changes'); END;

    DROP INDEX bookings_by_block;
    CREATE INDEX bookings_by_block_client ON bookings (block_id, service_code, status, client_id);
    DROP INDEX bookings_by_client;
    CREATE INDEX bookings_by_client_span ON bookings (client_id, service_code, status, span_start, span_end);
    """
