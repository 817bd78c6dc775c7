"""Migrations 1 to 4: the queue's spine (shops, messages, recipients, attempts, events,
suppression lists), the shops version, failed AUTH, and the recipient state machine with
leases. Listed in order in relay.store.schema."""

# 1: the spine: shops, messages, one row per recipient, attempts, events, suppression lists.
V1_SPINE = """
    CREATE TABLE shops (
        name TEXT PRIMARY KEY,
        domains TEXT NOT NULL,              -- JSON list, lowercase A-labels
        sender TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        language TEXT NOT NULL,
        password_hash TEXT NOT NULL,        -- scrypt$$n$$r$$p$$salt$$hash
        dkim_selector TEXT NOT NULL,
        dkim_private_key TEXT NOT NULL,     -- PEM, PKCS#8
        kinds_disabled TEXT NOT NULL DEFAULT '[]',
        custom_kinds TEXT NOT NULL DEFAULT '{}',   -- JSON {name: optional?}
        design TEXT NOT NULL DEFAULT '{}',
        created_at $real NOT NULL
    );
    CREATE TABLE dns_verdicts (
        shop TEXT NOT NULL REFERENCES shops(name),
        domain TEXT NOT NULL,
        verified INTEGER NOT NULL,
        checked_at $real NOT NULL,           -- last check with a conclusive answer
        stale_since $real,                   -- set while DNS trouble keeps the last verdict
        report TEXT NOT NULL DEFAULT '{}',  -- JSON of the last conclusive check
        PRIMARY KEY (shop, domain)
    );
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        shop TEXT NOT NULL REFERENCES shops(name),
        order_ref TEXT,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        header_from TEXT NOT NULL,
        message_id TEXT NOT NULL,
        identity TEXT NOT NULL,             -- 'shop' (d= shop domain) or 'fallback'
        dkim_domain TEXT NOT NULL,
        mail_from TEXT NOT NULL,            -- envelope sender the shop gave
        client TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL,
        body $blob,                          -- signed-over message as sent (headers + body)
        body_sha256 TEXT NOT NULL,
        created_at $real NOT NULL
    );
    CREATE INDEX messages_shop_order ON messages(shop, order_ref);
    CREATE INDEX messages_message_id ON messages(message_id);
    CREATE INDEX messages_created ON messages(created_at);
    CREATE TABLE recipients (
        id $id,
        message TEXT NOT NULL REFERENCES messages(id),
        address TEXT NOT NULL,
        domain TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,                        -- why suppressed/failed/bounced (Sisimai name or ours)
        detail TEXT,                        -- words for people, e.g. the remote reply
        prefix $blob NOT NULL DEFAULT $empty_blob,  -- per-recipient headers before the body
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at $real,
        claimed_by TEXT,
        last_code INTEGER,
        last_status TEXT,
        last_text TEXT,
        created_at $real NOT NULL,
        updated_at $real NOT NULL
    );
    CREATE INDEX recipients_due ON recipients(state, next_attempt_at);
    CREATE INDEX recipients_message ON recipients(message);
    CREATE INDEX recipients_address ON recipients(address);
    CREATE TABLE attempts (
        id $id,
        recipient $ref NOT NULL REFERENCES recipients(id),
        at $real NOT NULL,
        mx_host TEXT,
        code INTEGER,
        status TEXT,
        text TEXT,
        tls INTEGER NOT NULL DEFAULT 0,
        duration_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attempts_recipient ON attempts(recipient);
    CREATE TABLE events (
        id $id,
        at $real NOT NULL,
        kind TEXT NOT NULL,
        shop TEXT,
        message TEXT,
        recipient $ref,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_message ON events(message);
    CREATE INDEX events_shop ON events(shop, at);
    CREATE TABLE blocks (
        address TEXT PRIMARY KEY,
        created_at $real NOT NULL,
        reason TEXT NOT NULL,               -- complaint | userunknown | hostunknown | admin ...
        source TEXT NOT NULL,               -- 'report:<id>' or 'admin'
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE optouts (
        shop TEXT NOT NULL,
        address TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at $real NOT NULL,
        source TEXT NOT NULL,               -- 'link', 'one-click', 'mailto', 'admin'
        PRIMARY KEY (shop, address, kind)
    );
    CREATE TABLE reports (
        id $id,
        received_at $real NOT NULL,
        mail_from TEXT NOT NULL DEFAULT '',
        rcpt_to TEXT NOT NULL DEFAULT '[]',
        raw $blob NOT NULL,
        kind TEXT,
        status TEXT NOT NULL DEFAULT 'new', -- new | matched | unrecognized
        recipient $ref,
        parsed TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX reports_status ON reports(status);
    CREATE TABLE unsubscribe_mailto (
        token TEXT PRIMARY KEY,             -- local part of the List-Unsubscribe mailto
        shop TEXT NOT NULL,
        address TEXT NOT NULL,
        kind TEXT NOT NULL
    );
    """

# 2: a version number that changes with every change to shops or DNS verdicts, so the
# submission path can cache them and still see `relay shop kinds` or `relay dns check` on the
# next message. Triggers bumped it in SQLite; since version 4 the store functions that change
# shops or verdicts bump it themselves (relay.store.shops), which PostgreSQL does alike.
V2_SHOPS_VERSION_SQLITE = """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('shops_version', 0);
    CREATE TRIGGER shops_ins AFTER INSERT ON shops BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'shops_version'; END;
    CREATE TRIGGER shops_upd AFTER UPDATE ON shops BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'shops_version'; END;
    CREATE TRIGGER shops_del AFTER DELETE ON shops BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'shops_version'; END;
    CREATE TRIGGER verdicts_ins AFTER INSERT ON dns_verdicts BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'shops_version'; END;
    CREATE TRIGGER verdicts_upd AFTER UPDATE ON dns_verdicts BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'shops_version'; END;
    CREATE TRIGGER verdicts_del AFTER DELETE ON dns_verdicts BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'shops_version'; END
    """

V2_SHOPS_VERSION = """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('shops_version', 0)
    """

# 3: failed AUTH per client address, shared by the workers, for the growing delay.
V3_AUTH_FAILURES = """
    CREATE TABLE auth_failures (
        ip TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        last $real NOT NULL
    )
    """

# 4: the recipient state machine and leases (issue 10). A CHECK on recipients.state (the
# values of relay.model.State; tests/test_store_schema.py compares them); leases instead of
# pid claims: the node and the worker that hold an inflight row, until when, and since when.
# A claim left by a version before leases is an expired lease: any claimer takes it over.
# SQLite adds a CHECK only by rebuilding the table (https://sqlite.org/lang_altertable.html,
# "Making Other Kinds Of Table Schema Changes"); the ids are kept, so attempts, events and
# reports still point at their rows. The shops_version triggers go: the store bumps it.
_V4_STATES = (
    "queued",
    "inflight",
    "delivered",
    "deferred",
    "bounced",
    "failed",
    "suppressed",
    "quarantined",
)
# SQLite evaluates `state IN ('a', 'b', ...)` in a CHECK by building a small temporary index
# for every row written (+2.5 us an insert, a fifth of it); a chain of `=` costs nothing.
_V4_CHECK_SQLITE = " OR ".join(f"state = '{s}'" for s in _V4_STATES)
_V4_CHECK = "state IN (" + ", ".join(f"'{s}'" for s in _V4_STATES) + ")"

V4_LEASES_SQLITE = f"""
    DROP TRIGGER shops_ins;
    DROP TRIGGER shops_upd;
    DROP TRIGGER shops_del;
    DROP TRIGGER verdicts_ins;
    DROP TRIGGER verdicts_upd;
    DROP TRIGGER verdicts_del;
    CREATE TABLE recipients_v4 (
        id $id,
        message TEXT NOT NULL REFERENCES messages(id),
        address TEXT NOT NULL,
        domain TEXT NOT NULL,
        state TEXT NOT NULL CHECK ({_V4_CHECK_SQLITE}),
        reason TEXT,                        -- why suppressed/failed/bounced (Sisimai name or ours)
        detail TEXT,                        -- words for people, e.g. the remote reply
        prefix $blob NOT NULL DEFAULT $empty_blob,   -- per-recipient headers before the body
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at $real,               -- due from; set a retry ahead when claimed
        lease_node TEXT,                    -- node holding the inflight row
        lease_owner TEXT,                   -- node/worker holding it
        lease_expires $real,                 -- after this, any claimer may take it over
        claimed_at $real,                    -- when the lease was taken (stuck rows)
        last_code INTEGER,
        last_status TEXT,
        last_text TEXT,
        created_at $real NOT NULL,
        updated_at $real NOT NULL
    );
    INSERT INTO recipients_v4 (id, message, address, domain, state, reason, detail, prefix,
        attempts, next_attempt_at, lease_owner, lease_expires, last_code, last_status,
        last_text, created_at, updated_at)
    SELECT id, message, address, domain, state, reason, detail, prefix, attempts,
        next_attempt_at,
        CASE WHEN state = 'inflight' THEN coalesce(claimed_by, 'before-leases') END,
        CASE WHEN state = 'inflight' THEN 0 END,
        last_code, last_status, last_text, created_at, updated_at
    FROM recipients;
    DROP TABLE recipients;
    ALTER TABLE recipients_v4 RENAME TO recipients;
    CREATE INDEX recipients_due ON recipients(state, next_attempt_at);
    CREATE INDEX recipients_message ON recipients(message);
    CREATE INDEX recipients_address ON recipients(address)
    """

V4_LEASES = f"""
    ALTER TABLE recipients ADD COLUMN lease_node TEXT, ADD COLUMN lease_owner TEXT,
        ADD COLUMN lease_expires $real, ADD COLUMN claimed_at $real;
    UPDATE recipients SET lease_owner = coalesce(claimed_by, 'before-leases'), lease_expires = 0
        WHERE state = 'inflight';
    ALTER TABLE recipients DROP COLUMN claimed_by;
    ALTER TABLE recipients ADD CONSTRAINT recipients_state CHECK ({_V4_CHECK})
    """
