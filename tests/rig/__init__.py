"""The real-parts test rig: NSD, Postfix and smtp-sink on loopback, as pytest fixtures.

Modules: tools (require, ports, waiting, watchdogs), nsd (NsdServer,
silent_nameserver), postfix (PostfixRig) with postfix_config, smtp_sink
(SmtpSink), names (the test names and addresses), fixtures (for conftest).
tests/dns/README.md lists every DNS name and special mailbox.
"""
