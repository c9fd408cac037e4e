/// Schema version 3: what pre-pay checkout needs beyond version 1.
///
/// (Version 2 belongs to clients, portal logins and sessions; the migrator
/// applies whatever steps a database lacks, in order.)
///
/// - `holds.client_secret`: the PaymentIntent's client secret, so that a
///   retried `StartCheckout` returns the same answer without asking Stripe.
///   It is a secret-ish value for the paying browser only: never logged,
///   never in the audit log.
/// - `holds.end_reason`: why a hold stopped being active (`HoldEndReason`),
///   so that a repeated `FinalizeCheckout` gets the same answer.
/// - indexes for the sweeper (unsettled holds by expiry), the outbox by
///   PaymentIntent, and a client's bookings by date.
let schemaV3 = """
    ALTER TABLE holds ADD COLUMN client_secret TEXT;
    ALTER TABLE holds ADD COLUMN end_reason TEXT;
    CREATE INDEX holds_unsettled ON holds (expires_at) WHERE state = 'active' AND payment_intent_id IS NOT NULL;
    CREATE INDEX outbox_by_payment_intent ON outbox (payment_intent_id, kind);
    CREATE INDEX bookings_by_client_date ON bookings (client_id, date, start_minute, booking_id);
    """
