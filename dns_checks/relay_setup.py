"""The relay's side of every check: its names, keys and addresses, as plain values.

Built by the relay from relay.toml (`relay.dns.relay_setup`); dns_checks never reads
configuration. A shop's check needs the sending and bounce side; the relay's own
check (`check_relay`) also needs the fallback identity.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelaySetup:
    """hostname:        relay.hostname, the EHLO name; what each sending address's PTR must name.
    bounce_domain:      inbound.bounce_domain: the envelope senders' domain, where bounces
                        come back (MX) and whose SPF receivers evaluate.
    sending_ips:        delivery.sending_ips, the addresses the relay sends from.
    spf_include:        dns.spf_include: the relay's SPF record, authorising sending_ips.
    fallback_domain:    fallback.dkim_domain, d= of mail from unverified shops.
    fallback_selector:  fallback.dkim_selector.
    fallback_public_key_b64: the fallback key's p= value; only `check_relay` needs it.
    """

    hostname: str
    bounce_domain: str
    sending_ips: tuple[str, ...]
    spf_include: str
    fallback_domain: str = ""
    fallback_selector: str = ""
    fallback_public_key_b64: str | None = None
