/// Schema version 6: one index fewer on every hold.
///
/// `holds_unsettled` (version 3: live holds with a PaymentIntent, by
/// expiry) duplicated `holds_active_by_expiry` (version 5: live holds by
/// expiry) for the sweeper's one query, which the latter serves as well
/// (`EXPLAIN QUERY PLAN`: `SEARCH h USING INDEX holds_active_by_expiry
/// (expires_at<?)`; the expired live holds it walks are few). Each hold
/// entered and left it: two B-tree changes in every checkout.
let schemaV6 = """
    DROP INDEX holds_unsettled;
    """
