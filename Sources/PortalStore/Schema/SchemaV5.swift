/// Schema version 5: indexes over live rows only.
///
/// The holds indexes of version 1 kept every hold ever taken, keyed by
/// `state`: each hold that ended moved its entries to another part of three
/// large indexes, dirtying pages all over them (perf: `endHold` was the
/// costliest step of `FinalizeCheckout`'s transaction). Every query that
/// searches holds by block, client or expiry asks for `state = 'active'`,
/// so these indexes are now partial: they hold the live holds only — a
/// small, hot set — and a hold that ends just leaves them. The same for the
/// outbox: only rows not yet done are searched by due time.
///
/// `holds (block_id)` stays as a plain index for the `ON DELETE CASCADE`
/// from blocks (foreign-key lookups cannot use partial indexes).
let schemaV5 = """
    DROP INDEX holds_by_block;
    DROP INDEX holds_by_client;
    DROP INDEX holds_by_expiry;
    CREATE INDEX holds_by_block ON holds (block_id);
    CREATE INDEX holds_active_by_block ON holds (block_id, service_code, expires_at) WHERE state = 'active';
    CREATE INDEX holds_active_by_client ON holds (client_id, service_code, span_start) WHERE state = 'active';
    CREATE INDEX holds_active_by_expiry ON holds (expires_at) WHERE state = 'active';
    DROP INDEX outbox_pending;
    CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE done_at IS NULL;
    """
