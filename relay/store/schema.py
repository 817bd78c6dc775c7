"""The schema as numbered migrations, one list for every database engine.

A migration is a template (`$id`, `$ref`, `$blob`, `$real`, `$empty_blob` become each engine's
words, relay.store.dialect) or, for the few statements that differ, a text per dialect. SQLite
tracks the version in `PRAGMA user_version`. A migration is never edited once released: a change
is a new migration at the end (a test checks that a version-3 database migrates with its data).
"""

from collections.abc import Mapping

from relay.store.dialect import Dialect
from relay.store.schema_console import CONSOLE, CONSOLE_SEARCH

Migration = str | Mapping[str, str]  # one template, or {dialect name: template}

# 1: the spine: shops, messages, one row per recipient, attempts, events, suppression lists.
_V1_SPINE = """
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
_V2_SHOPS_VERSION_SQLITE = """
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

_V2_SHOPS_VERSION = """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('shops_version', 0)
    """

# 3: failed AUTH per client address, shared by the workers, for the growing delay.
_V3_AUTH_FAILURES = """
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

_V4_LEASES_SQLITE = f"""
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

_V4_LEASES = f"""
    ALTER TABLE recipients ADD COLUMN lease_node TEXT, ADD COLUMN lease_owner TEXT,
        ADD COLUMN lease_expires $real, ADD COLUMN claimed_at $real;
    UPDATE recipients SET lease_owner = coalesce(claimed_by, 'before-leases'), lease_expires = 0
        WHERE state = 'inflight';
    ALTER TABLE recipients DROP COLUMN claimed_by;
    ALTER TABLE recipients ADD CONSTRAINT recipients_state CHECK ({_V4_CHECK})
    """

# 5: the shop's design and its own templates (SPEC "Design and templates"); which template
# rendered a message and whether it was a test; shops are removed by a mark (their history
# refers to them until retention). The `design` column of version 1 was never used: the design
# has its own table, so that reading a shop (every AUTH) never reads a header image.
_V5_DESIGN = """
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
_V6_API = """
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
_V6_DAY = {
    "sqlite": "CAST(at / 86400 AS INTEGER)",
    "postgresql": "CAST(floor(at / 86400) AS INTEGER)",
}

# 7: forged reports and the AUTH throttle (issue 9, items 2 and 5). A report's fingerprint
# (what it says about which recipient, relay.inbound.fingerprint), so that the same report
# received twice counts once. Failed AUTH per client address and shop name tried (a success
# clears only its own shop's failures from its address), and the line of attempts per client
# address, each taken before its password is checked, so that parallel sessions wait in line
# (relay.store.auth).
_V7_REPORTS_AND_AUTH = """
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
_V8_NODES = """
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
_V9_WIRE = """
    ALTER TABLE messages ADD COLUMN return_path TEXT;
    CREATE TABLE relay_dns (
        name TEXT PRIMARY KEY CHECK (name = 'relay'),   -- one row
        checked_at $real NOT NULL,
        report TEXT NOT NULL               -- JSON of dns_checks.to_json(check_relay(...))
    )
    """

MIGRATIONS: tuple[Migration, ...] = (
    _V1_SPINE,
    {"sqlite": _V2_SHOPS_VERSION_SQLITE, "postgresql": _V2_SHOPS_VERSION},
    _V3_AUTH_FAILURES,
    {"sqlite": _V4_LEASES_SQLITE, "postgresql": _V4_LEASES},
    _V5_DESIGN,
    {name: _V6_API.replace("$day", day) for name, day in _V6_DAY.items()},
    _V7_REPORTS_AND_AUTH,
    _V8_NODES,
    _V9_WIRE,
    CONSOLE,
    CONSOLE_SEARCH,
)


def render(migration: Migration, dialect: Dialect) -> str:
    """The text of one migration for one engine."""
    template = migration if isinstance(migration, str) else migration[dialect.name]
    return dialect.ddl(template)
