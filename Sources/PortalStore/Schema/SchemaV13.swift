/// Schema version 13: the database's own id.
///
/// `store_identity` holds one row: `store_id`, 128 random bits drawn once,
/// when the database reaches this version, and that moment (`created_at`,
/// Unix seconds). Every checkout PaymentIntent
/// carries it in its metadata (`portal_store_id`), so that start-up repair
/// can tell the PaymentIntents this database's checkouts created from those
/// of another deployment on the same provider account — and cancel the
/// ones a crashed `StartCheckout` created before it wrote its hold, which
/// no row names (docs/checkout.md, "Start-up repair").
let schemaV13 = """
    CREATE TABLE store_identity (
        singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
        store_id   TEXT    NOT NULL CHECK (length(store_id) = 32),
        created_at INTEGER NOT NULL
    ) STRICT;
    INSERT INTO store_identity (singleton, store_id, created_at)
        VALUES (1, lower(hex(randomblob(16))), unixepoch());
    """
