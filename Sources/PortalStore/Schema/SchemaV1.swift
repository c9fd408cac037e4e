/// Schema version 1: the whole domain of SPEC §1, so that later issues
/// (checkout, clients and logins, sessions) only add to it.
///
/// Conventions: `STRICT` tables; instants are Unix seconds (INTEGER); local
/// dates are `YYYY-MM-DD` text (which sorts chronologically); times of day
/// are minutes since midnight; money is integer minor units plus a lower-case
/// ISO 4217 code; ids are `INTEGER PRIMARY KEY AUTOINCREMENT` so that an id
/// is never reused after a delete (a stale id held by a client must not name
/// a different block). `span_start`/`span_end` are local minutes since
/// 1970-01-01 00:00, the half-open span a booking or hold occupies, for the
/// overlap rule.
let schemaV1 = """
    CREATE TABLE services (
        service_code     TEXT    PRIMARY KEY,
        duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
        price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
        currency         TEXT    NOT NULL CHECK (length(currency) = 3),
        notes            TEXT    NOT NULL DEFAULT '',
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE blocks (
        block_id     INTEGER PRIMARY KEY AUTOINCREMENT,
        date         TEXT    NOT NULL CHECK (length(date) = 10),
        start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
        end_minute   INTEGER NOT NULL CHECK (end_minute BETWEEN 0 AND 1439),
        label        TEXT    NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        CHECK (end_minute > start_minute)
    ) STRICT;
    CREATE INDEX blocks_by_date ON blocks (date, start_minute, block_id);

    CREATE TABLE block_capacities (
        block_id      INTEGER NOT NULL REFERENCES blocks (block_id) ON DELETE CASCADE,
        service_code  TEXT    NOT NULL REFERENCES services (service_code),
        capacity      INTEGER NOT NULL CHECK (capacity BETWEEN 0 AND 10000),
        allow_overlap INTEGER NOT NULL CHECK (allow_overlap IN (0, 1)),
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (block_id, service_code)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE portal_users (
        user_id       INTEGER PRIMARY KEY AUTOINCREMENT,
        username      TEXT    NOT NULL UNIQUE,
        password_hash TEXT    NOT NULL,
        is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE clients (
        client_id           INTEGER PRIMARY KEY AUTOINCREMENT,
        name                TEXT    NOT NULL,
        email               TEXT    NOT NULL DEFAULT '',
        phone               TEXT    NOT NULL DEFAULT '',
        can_self_reschedule INTEGER NOT NULL DEFAULT 0 CHECK (can_self_reschedule IN (0, 1)),
        portal_user_id      INTEGER UNIQUE REFERENCES portal_users (user_id) ON DELETE SET NULL,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
    ) STRICT;

    -- Session tokens are stored only as a hash: a copy of the database does
    -- not let anyone act as a client.
    CREATE TABLE sessions (
        session_id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_hash TEXT    NOT NULL UNIQUE,
        user_id    INTEGER NOT NULL REFERENCES portal_users (user_id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_user ON sessions (user_id);
    CREATE INDEX sessions_by_expiry ON sessions (expires_at);

    -- A hold counts against capacity while state = 'active' and
    -- expires_at > now; every query filters on both, so an expired hold never
    -- counts even before the purge runs. Deleting a block is refused while it
    -- has active holds, so the cascade only removes finished ones.
    CREATE TABLE holds (
        hold_id           INTEGER PRIMARY KEY AUTOINCREMENT,
        token             TEXT    NOT NULL UNIQUE,
        block_id          INTEGER NOT NULL REFERENCES blocks (block_id) ON DELETE CASCADE,
        service_code      TEXT    NOT NULL REFERENCES services (service_code),
        client_id         INTEGER NOT NULL REFERENCES clients (client_id),
        span_start        INTEGER NOT NULL,
        span_end          INTEGER NOT NULL,
        created_at        INTEGER NOT NULL,
        expires_at        INTEGER NOT NULL,
        state             TEXT    NOT NULL
                          CHECK (state IN ('active', 'converted', 'cancelled', 'expired')),
        payment_intent_id TEXT    UNIQUE,
        amount_cents      INTEGER NOT NULL CHECK (amount_cents >= 0),
        currency          TEXT    NOT NULL,
        updated_at        INTEGER NOT NULL,
        CHECK (span_end > span_start),
        CHECK (expires_at > created_at)
    ) STRICT;
    CREATE INDEX holds_by_block ON holds (block_id, service_code, state, expires_at);
    CREATE INDEX holds_by_client ON holds (client_id, service_code, state, span_start);
    CREATE INDEX holds_by_expiry ON holds (state, expires_at);

    -- A booking copies what it was sold as (date, times, label, price) so
    -- that later edits of the block or the service do not rewrite history.
    -- block_id becomes NULL only if a cancelled booking's block is deleted
    -- (confirmed bookings keep their block from being deleted).
    CREATE TABLE bookings (
        booking_id        INTEGER PRIMARY KEY AUTOINCREMENT,
        client_id         INTEGER NOT NULL REFERENCES clients (client_id),
        service_code      TEXT    NOT NULL REFERENCES services (service_code),
        block_id          INTEGER REFERENCES blocks (block_id) ON DELETE SET NULL,
        hold_id           INTEGER UNIQUE REFERENCES holds (hold_id) ON DELETE SET NULL,
        date              TEXT    NOT NULL CHECK (length(date) = 10),
        start_minute      INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
        duration_minutes  INTEGER NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
        span_start        INTEGER NOT NULL,
        span_end          INTEGER NOT NULL,
        block_label       TEXT    NOT NULL,
        amount_cents      INTEGER NOT NULL CHECK (amount_cents >= 0),
        currency          TEXT    NOT NULL,
        payment_intent_id TEXT    NOT NULL UNIQUE,
        status            TEXT    NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
        payment_state     TEXT    NOT NULL
                          CHECK (payment_state IN ('capture_pending', 'captured', 'canceled', 'refunded')),
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        CHECK (span_end > span_start)
    ) STRICT;
    CREATE INDEX bookings_by_block ON bookings (block_id, service_code, status);
    CREATE INDEX bookings_by_date ON bookings (date, start_minute, booking_id);
    CREATE INDEX bookings_by_client ON bookings (client_id, service_code, status, span_start);

    -- Append-only: the triggers refuse any UPDATE or DELETE.
    CREATE TABLE audit_log (
        audit_id  INTEGER PRIMARY KEY AUTOINCREMENT,
        entity    TEXT    NOT NULL,
        entity_id TEXT    NOT NULL,
        event     TEXT    NOT NULL,
        at        INTEGER NOT NULL,
        detail    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
    ) STRICT;
    CREATE INDEX audit_by_entity ON audit_log (entity, entity_id, audit_id);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

    -- Payment calls that must follow a commit (capture, cancel), written in
    -- the same transaction and carried out by a worker that retries with the
    -- same idempotency key until done_at is set.
    CREATE TABLE outbox (
        outbox_id         INTEGER PRIMARY KEY AUTOINCREMENT,
        kind              TEXT    NOT NULL,
        payment_intent_id TEXT    NOT NULL,
        idempotency_key   TEXT    NOT NULL UNIQUE,
        attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at   INTEGER NOT NULL,
        last_error        TEXT,
        created_at        INTEGER NOT NULL,
        done_at           INTEGER
    ) STRICT;
    CREATE INDEX outbox_pending ON outbox (done_at, next_attempt_at);
    """
