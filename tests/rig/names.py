"""Names and addresses the rig serves; tests/dns/README.md says what each is for.

DNS (tests/dns/*.zone) and the Postfix rig (tests/rig/postfix.py) agree on
these; import them instead of spelling them out in tests.
"""

from __future__ import annotations

# --- hosts (example.net) ------------------------------------------------------
MX_HOST = "mx1.example.net"  # A 127.0.0.1: the Postfix rig (port: PostfixRig.port)
MX_HOST_2 = "mx2.example.net"  # A 127.0.0.1: also the Postfix rig's address
DEAD_MX_HOST = "mx-dead.example.net"  # A 127.0.0.2: nothing listens there
RELAY_HOST = "relay.example.net"  # A 127.0.0.1: the relay's own name
BOUNCE_DOMAIN = "bounces.relay.example.net"  # MX relay.example.net: the relay's inbound
RELAY_SPF_INCLUDE = "_spf.relay.example.net"  # TXT v=spf1 ip4:127.0.0.1 -all

# --- recipient domains (example.com) ----------------------------------------------
CUSTOMER_DOMAIN = "shop-customers.example.com"  # MX 10 mx1: delivered by Postfix
NULL_MX_DOMAIN = "nullmx.example.com"  # MX 0 . (RFC 7505): takes no mail
NXDOMAIN_DOMAIN = "no-such-domain.example.com"  # absent from the zone: NXDOMAIN
DEAD_MX_DOMAIN = "dead-mx.example.com"  # only MX -> 127.0.0.2, connection refused
FALLBACK_MX_DOMAIN = "fallback-mx.example.com"  # MX 10 dead, MX 20 mx1: second MX works
IMPLICIT_MX_DOMAIN = "implicit-mx.example.com"  # no MX, A 127.0.0.1 (RFC 5321 5.1)
ACCEPT_ALL_DOMAIN = "accept-all.example.com"  # accepted at RCPT, bounced later (5.1.1)

# --- shop sender domains (example.com) --------------------------------------------
SHOP_DOMAIN = "shop.example.com"  # SPF includes the relay; add DKIM per test
SHOP_RETURN_PATH = "bounces.shop.example.com"  # CNAME BOUNCE_DOMAIN: custom return path
BARE_SHOP_DOMAIN = "bare-shop.example.com"  # publishes no SPF/DKIM/DMARC
SUB_SHOP_DOMAIN = "sub-shop.example.org"  # no DMARC; _dmarc.example.org governs it (sp=none)
PUBLIC_MAILBOX_DOMAIN = "gmail.com"  # a zone of its own; never verifiable

# --- reverse DNS (127.in-addr.arpa) --------------------------------------------------
SENDING_IP = "127.0.0.1"  # PTR RELAY_HOST, which resolves back to it (forward-confirmed)

# --- special mailboxes in CUSTOMER_DOMAIN (any other local part is a mailbox) -----
CUSTOMER = f"customer@{CUSTOMER_DOMAIN}"  # an ordinary mailbox
UNKNOWN_USER = f"unknown@{CUSTOMER_DOMAIN}"  # RCPT: 550 5.1.1 (any unknown*/nosuch*)
BUSY = f"busy@{CUSTOMER_DOMAIN}"  # RCPT: 450 4.2.0 while deferring (default on)
MAILBOX_FULL = f"full@{CUSTOMER_DOMAIN}"  # accepted, then DSN 5.2.2 mailbox full
TOO_BIG = f"toobig@{CUSTOMER_DOMAIN}"  # accepted, then DSN 5.3.4 if over 1 KiB
LATER_UNKNOWN = f"gone@{ACCEPT_ALL_DOMAIN}"  # accepted, then DSN 5.1.1 user unknown
UTF8_CUSTOMER = f"jörg@{CUSTOMER_DOMAIN}"  # a UTF-8 local part (RFC 6531): needs SMTPUTF8

# Domains Postfix takes mail for (virtual mailbox domains).
POSTFIX_DOMAINS = (
    CUSTOMER_DOMAIN,
    FALLBACK_MX_DOMAIN,
    IMPLICIT_MX_DOMAIN,
    DEAD_MX_DOMAIN,
    ACCEPT_ALL_DOMAIN,
    SHOP_DOMAIN,
    BARE_SHOP_DOMAIN,
)

# Mailboxes with a UTF-8 local part (any ASCII local part is one already).
UTF8_MAILBOXES = (UTF8_CUSTOMER,)

# Local parts that are unknown users in every Postfix domain (prefix match).
UNKNOWN_PREFIXES = ("unknown", "nosuch")

# --- webhook SSRF tests (hooks.example.org, a zone of its own) ---------------------------
HOOK_RECEIVER_HOST = "receiver.hooks.example.org"  # A 127.0.0.1: a receiver on this machine
HOOK_METADATA_HOST = "metadata.hooks.example.org"  # A 169.254.169.254: always refused
HOOK_METADATA6_HOST = "metadata6.hooks.example.org"  # AAAA ::ffff:169.254.169.254: refused
HOOK_PRIVATE_HOST = "private.hooks.example.org"  # A 10.20.30.40: refused unless allow_private
HOOK_MIXED_HOST = "mixed.hooks.example.org"  # A 127.0.0.1 + A 169.254.169.254: refused
