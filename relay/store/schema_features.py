"""Migrations 5 to 9: design and templates, the shop-facing API and webhooks, forged reports
and the AUTH line, several nodes, what leaves the relay. Listed in order in
relay.store.schema."""

# 5: the shop's design and its own templates (SPEC "Design and templates"); which template
# rendered a message and whether it was a test; shops are removed by a mark (their history
# refers to them until retention). The `design` column of version 1 was never used: the design
# has its own table, so that reading a shop (every AUTH) never reads a header image.
V5_DESIGN = """
    CREATE TABLE shop_designs (
        shop TEXT PRIMARY KEY REFERENCES shops(name),
        fields TEXT NOT NULL,               -- JSON: colours, font, footer, language
        header_image $blob,                  -- PNG or JPEG, at most 200 KB; NULL: none
        digest TEXT NOT NULL,               -- SHA-256 of fields and image: this version
        updated_at $real NOT NULL
    );
    CREATE TABLE shop_templates (
        shop TEXT NOT NULL REFERENCES shops(name),
        kind TEXT NOT NULL,
        language TEXT NOT NULL,
        source TEXT NOT NULL,               -- the template file: subject, html, text parts
        updated_at $real NOT NULL,
        PRIMARY KEY (shop, kind, language)
    );
    ALTER TABLE messages ADD COLUMN template TEXT;   -- 'payment-reminder/de default 3f2a...'
    ALTER TABLE messages ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE shops ADD COLUMN removed_at $real;    -- set by `relay shop remove`
    ALTER TABLE shops DROP COLUMN design
    """

# 6: the shop-facing API (issue 11): API tokens (hashed), idempotency keys of POST /messages,
# each shop's webhook endpoint (its signing secret sealed, relay.webhooks.vault), the webhook
# outbox (one row per event told, written in the transaction of the event), problems
# (undeliverable mandatory mail until acknowledged) and per shop and day counters for the
# rates of `relay status` (relay.stats). No foreign keys to shops: a removed shop's history
# stays until retention.
V6_API = """
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,                -- the public part of the token (rly_<id>_...)
        shop TEXT NOT NULL,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,                 -- SHA-256 hex of the whole token
        created_at $real NOT NULL,
        last_used_at $real,
        revoked_at $real
    );
    CREATE INDEX api_tokens_shop ON api_tokens(shop);
    CREATE TABLE idempotency_keys (
        shop TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,          -- SHA-256 of the request body
        message TEXT NOT NULL,
        status INTEGER NOT NULL,
        response TEXT NOT NULL,             -- the JSON answered the first time
        created_at $real NOT NULL,
        PRIMARY KEY (shop, key)
    );
    CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
    CREATE TABLE webhook_endpoints (
        shop TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL,               -- JSON list of event types
        secret $blob NOT NULL,              -- sealed (AES-GCM, key from secret.key)
        previous_secret $blob,              -- signs too until previous_until (rotation)
        previous_until $real,
        disabled_at $real,                  -- the endpoint answered 410
        disabled_why TEXT,
        created_at $real NOT NULL,
        updated_at $real NOT NULL
    );
    CREATE TABLE webhook_outbox (
        id $id,
        shop TEXT NOT NULL,
        webhook_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        message TEXT,
        recipient $ref,
        sequence TEXT NOT NULL,             -- events of one sequence go out in order
        body $blob NOT NULL,
        created_at $real NOT NULL,
        state TEXT NOT NULL,                -- pending | delivered | failed | dropped
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at $real,
        lease_owner TEXT,
        lease_expires $real,
        last_attempt_at $real,
        last_outcome TEXT,
        last_status INTEGER,
        last_error TEXT,
        finished_at $real
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox(state, next_attempt_at);
    CREATE INDEX webhook_outbox_sequence ON webhook_outbox(sequence, id);
    CREATE INDEX webhook_outbox_shop ON webhook_outbox(shop, last_attempt_at);
    CREATE INDEX webhook_outbox_finished ON webhook_outbox(finished_at);
    CREATE TABLE problems (
        id $id,
        shop TEXT NOT NULL,
        message TEXT NOT NULL,
        recipient $ref NOT NULL UNIQUE,     -- a recipient ends undeliverable once
        address TEXT NOT NULL,
        kind TEXT NOT NULL,
        order_ref TEXT,
        cause TEXT NOT NULL,                -- bounced | failed | suppressed | expired
        reason TEXT,
        created_at $real NOT NULL,
        acked_at $real,
        acked_by TEXT
    );
    CREATE INDEX problems_shop ON problems(shop, acked_at);
    CREATE TABLE shop_days (
        shop TEXT NOT NULL,
        day INTEGER NOT NULL,               -- days since 1970-01-01, UTC
        delivered INTEGER NOT NULL DEFAULT 0,
        deferred INTEGER NOT NULL DEFAULT 0,
        bounced INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        suppressed INTEGER NOT NULL DEFAULT 0,
        complained INTEGER NOT NULL DEFAULT 0,
        opted_out INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (shop, day)
    );
    INSERT INTO shop_days (shop, day, delivered, deferred, bounced, failed, suppressed,
        complained, opted_out)
    SELECT shop, $day AS d,
        sum(CASE WHEN kind = 'delivered' THEN 1 ELSE 0 END),
        sum(CASE WHEN kind = 'deferred' THEN 1 ELSE 0 END),
        sum(CASE WHEN kind = 'bounced' THEN 1 ELSE 0 END),
        sum(CASE WHEN kind = 'failed' THEN 1 ELSE 0 END),
        sum(CASE WHEN kind = 'suppressed' THEN 1 ELSE 0 END),
        sum(CASE WHEN kind = 'complained' THEN 1 ELSE 0 END),
        sum(CASE WHEN kind = 'opted-out' THEN 1 ELSE 0 END)
    FROM events WHERE shop IS NOT NULL GROUP BY shop, $day
    """
# The day of an event's time: SQLite's CAST truncates (a floor for times after 1970), PostgreSQL's
# rounds, so it takes floor() (SQLite has floor() only when built with its math functions).
V6_DAY = {
    "sqlite": "CAST(at / 86400 AS INTEGER)",
    "postgresql": "CAST(floor(at / 86400) AS INTEGER)",
}

# 7: forged reports and the AUTH throttle (issue 9, items 2 and 5). A report's fingerprint
# (what it says about which recipient, relay.inbound.fingerprint), so that the same report
# received twice counts once. Failed AUTH per client address and shop name tried (a success
# clears only its own shop's failures from its address), and the line of attempts per client
# address, each taken before its password is checked, so that parallel sessions wait in line
# (relay.store.auth).
V7_REPORTS_AND_AUTH = """
    ALTER TABLE reports ADD COLUMN fingerprint TEXT;
    CREATE INDEX reports_fingerprint ON reports(recipient, fingerprint);
    DROP TABLE auth_failures;
    CREATE TABLE auth_failures (
        ip TEXT NOT NULL,                   -- client address (IPv6: its /64)
        shop TEXT NOT NULL,                 -- shop name tried, existing or not
        count INTEGER NOT NULL,
        last $real NOT NULL,
        PRIMARY KEY (ip, shop)
    );
    CREATE INDEX auth_failures_last ON auth_failures(last);
    CREATE TABLE auth_attempts (
        id $id,
        ip TEXT NOT NULL,
        queued_at $real NOT NULL,
        started_at $real,                    -- its check began (NULL: waiting for its turn)
        finished_at $real                    -- its check ended
    );
    CREATE INDEX auth_attempts_ip ON auth_attempts(ip, id);
    CREATE INDEX auth_attempts_queued ON auth_attempts(queued_at)
    """

# 8: several nodes (issue 10): the nodes that run `relay serve` on this database, with their
# heartbeat (relay nodes) and a fingerprint of their keys (nodes must share them); when a
# message's body was dropped after `store.retention` (the proof of sending stays), and an
# index of the messages whose body is still kept, so the retention job never scans the
# history it has already done.
V8_NODES = """
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,              -- store.node, or the host name
        pid INTEGER NOT NULL,               -- of relay serve (the supervisor)
        version TEXT NOT NULL,              -- of the relay
        workers INTEGER NOT NULL,
        started_at $real NOT NULL,
        heartbeat_at $real NOT NULL,         -- every few seconds while it runs
        stopped_at $real,                    -- a clean stop; NULL while running or after a crash
        periodic TEXT NOT NULL DEFAULT '[]', -- JSON: the periodic jobs it runs now
        metrics TEXT NOT NULL DEFAULT '',   -- where it serves /metrics
        keys TEXT NOT NULL DEFAULT ''       -- fingerprint of its secret.key and fallback key
    );
    ALTER TABLE messages ADD COLUMN body_dropped_at $real;
    CREATE INDEX messages_body_kept ON messages(created_at) WHERE body IS NOT NULL
    """

# 9: what leaves the relay (issue 13): the envelope senders' domain of a message when it is a
# shop's custom return path (NULL: the relay's bounce domain), so delivery and the bounce
# listener agree on it whatever DNS says later; and the last check of the relay's own DNS
# records (`relay dns check --relay`, the re-check of `relay serve`), one row.
V9_WIRE = """
    ALTER TABLE messages ADD COLUMN return_path TEXT;
    CREATE TABLE relay_dns (
        name TEXT PRIMARY KEY CHECK (name = 'relay'),   -- one row
        checked_at $real NOT NULL,
        report TEXT NOT NULL               -- JSON of dns_checks.to_json(check_relay(...))
    )
    """
