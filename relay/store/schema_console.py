"""Migrations 10 and 11, the shop console's tables and indexes (relay.store.schema lists them)."""

# 10: the shop console (issue 12): console users of a shop (besides the shop's own log-in, its
# SMTP credentials), sessions as server-side records (the cookie holds a secret whose SHA-256
# is the id, so a copy of the table opens no session; log-out deletes the row), and the indexes
# of the order list: newest first per shop, keyset-paged on (created_at, id), with the order
# number in the index so that a search by its prefix reads no table row it does not show; each
# order once at its newest message (the second index answers "is there a newer one of this
# order?" and replaces (shop, order_ref), of which it is an extension).
CONSOLE = """
    CREATE TABLE console_users (
        id $id,
        shop TEXT NOT NULL,
        email TEXT NOT NULL,                -- lower-case
        password_hash TEXT NOT NULL,        -- as shops.password_hash (relay.passwords)
        created_at $real NOT NULL,
        last_login_at $real,
        UNIQUE (shop, email)
    );
    CREATE TABLE console_sessions (
        id TEXT PRIMARY KEY,                -- SHA-256 hex of the secret in the cookie
        shop TEXT NOT NULL,
        user_id $ref,                        -- console_users.id; NULL: the shop's own log-in
        credential TEXT NOT NULL,           -- digest of the password hash at log-in
        csrf TEXT NOT NULL,                 -- the token every form and fetch must carry
        created_at $real NOT NULL,           -- absolute expiry counts from here
        seen_at $real NOT NULL               -- idle expiry counts from here
    );
    CREATE INDEX console_sessions_shop ON console_sessions(shop);
    CREATE INDEX console_sessions_user ON console_sessions(user_id);
    CREATE INDEX console_sessions_seen ON console_sessions(seen_at);
    CREATE INDEX messages_shop_created ON messages(shop, created_at, id, order_ref);
    CREATE INDEX messages_shop_order_created ON messages(shop, order_ref, created_at, id);
    DROP INDEX messages_shop_order
    """

# 11: a customer's address is found however it is cased. Submission keeps the local part as
# written (RFC 5321 §2.4: its case is the receiving side's to decide), so the console's search
# by address and the blocks a shop sees (its recipients joined to the lower-case block list)
# compare lower(address); this index keeps that a lookup, not a scan of every recipient. It
# replaces the index on the address as written, which no statement uses any more (`relay
# messages --to` compares lower-cased too): one index per recipient written, as before.
# And `GET /api/v1/suppressions` pages newest first by keyset (created_at, address[, kind]):
# these two indexes give the rows in that order without sorting a shop's every opt-out (or the
# relay's every block) for each page.
CONSOLE_SEARCH = """
    CREATE INDEX recipients_address_lower ON recipients(lower(address));
    DROP INDEX recipients_address;
    CREATE INDEX optouts_shop_created ON optouts(shop, created_at, address, kind);
    CREATE INDEX blocks_created ON blocks(created_at, address)
    """
