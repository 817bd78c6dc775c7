"""Message preparation: X-Relay-* headers, identity, per-recipient decisions, signing plan."""
