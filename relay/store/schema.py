"""Database schema, applied as numbered migrations tracked in PRAGMA user_version."""

# Recipient states (SPEC.md "Delivery"): queued -> inflight -> delivered | deferred (-> queued)
# | bounced | failed | suppressed | quarantined. A later DSN can move delivered -> bounced.
STATES = (
    "queued",
    "inflight",
    "delivered",
    "deferred",
    "bounced",
    "failed",
    "suppressed",
    "quarantined",
)

MIGRATIONS: tuple[str, ...] = (
    # 1: the spine: shops, messages, one row per recipient, attempts, events, suppression lists.
    """
    CREATE TABLE shops (
        name TEXT PRIMARY KEY,
        domains TEXT NOT NULL,              -- JSON list, lowercase A-labels
        sender TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        language TEXT NOT NULL,
        password_hash TEXT NOT NULL,        -- scrypt$n$r$p$salt$hash
        dkim_selector TEXT NOT NULL,
        dkim_private_key TEXT NOT NULL,     -- PEM, PKCS#8
        kinds_disabled TEXT NOT NULL DEFAULT '[]',
        custom_kinds TEXT NOT NULL DEFAULT '{}',   -- JSON {name: optional?}
        design TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE TABLE dns_verdicts (
        shop TEXT NOT NULL REFERENCES shops(name),
        domain TEXT NOT NULL,
        verified INTEGER NOT NULL,
        checked_at REAL NOT NULL,           -- last check with a conclusive answer
        stale_since REAL,                   -- set while DNS trouble keeps the last verdict
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
        body BLOB,                          -- signed-over message as sent (headers + body)
        body_sha256 TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_shop_order ON messages(shop, order_ref);
    CREATE INDEX messages_message_id ON messages(message_id);
    CREATE INDEX messages_created ON messages(created_at);
    CREATE TABLE recipients (
        id INTEGER PRIMARY KEY,
        message TEXT NOT NULL REFERENCES messages(id),
        address TEXT NOT NULL,
        domain TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,                        -- why suppressed/failed/bounced (Sisimai name or ours)
        detail TEXT,                        -- words for people, e.g. the remote reply
        prefix BLOB NOT NULL DEFAULT x'',   -- per-recipient headers put before body (DKIM, ...)
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        claimed_by TEXT,
        last_code INTEGER,
        last_status TEXT,
        last_text TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX recipients_due ON recipients(state, next_attempt_at);
    CREATE INDEX recipients_message ON recipients(message);
    CREATE INDEX recipients_address ON recipients(address);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        recipient INTEGER NOT NULL REFERENCES recipients(id),
        at REAL NOT NULL,
        mx_host TEXT,
        code INTEGER,
        status TEXT,
        text TEXT,
        tls INTEGER NOT NULL DEFAULT 0,
        duration_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attempts_recipient ON attempts(recipient);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        shop TEXT,
        message TEXT,
        recipient INTEGER,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_message ON events(message);
    CREATE INDEX events_shop ON events(shop, at);
    CREATE TABLE blocks (
        address TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        reason TEXT NOT NULL,               -- complaint | userunknown | hostunknown | admin ...
        source TEXT NOT NULL,               -- 'report:<id>' or 'admin'
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE optouts (
        shop TEXT NOT NULL,
        address TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL,
        source TEXT NOT NULL,               -- 'link', 'one-click', 'mailto', 'admin'
        PRIMARY KEY (shop, address, kind)
    );
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        received_at REAL NOT NULL,
        mail_from TEXT NOT NULL DEFAULT '',
        rcpt_to TEXT NOT NULL DEFAULT '[]',
        raw BLOB NOT NULL,
        kind TEXT,
        status TEXT NOT NULL DEFAULT 'new', -- new | matched | unrecognized
        recipient INTEGER,
        parsed TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX reports_status ON reports(status);
    CREATE TABLE unsubscribe_mailto (
        token TEXT PRIMARY KEY,             -- local part of the List-Unsubscribe mailto
        shop TEXT NOT NULL,
        address TEXT NOT NULL,
        kind TEXT NOT NULL
    );
    """,
    # 2: a version number that changes with every change to shops or DNS verdicts, so the
    # submission path can cache them and still see `relay shop kinds` or `relay dns check`
    # on the next message.
    """
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
    """,
    # 3: failed AUTH per client address, shared by the workers, for the growing delay.
    """
    CREATE TABLE auth_failures (
        ip TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        last REAL NOT NULL
    )
    """,
)
