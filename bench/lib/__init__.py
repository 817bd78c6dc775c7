"""Helpers shared by bench/accept and bench/relay (run from the repository root).

procs: /proc bookkeeping (process trees, CPU time, summed RSS) and cleanup;
relay: a throw-away relay instance (init, relay.toml, shop, serve);
source: Postfix's smtp-source, the message file, the latency sampler;
postfix: a private relaying Postfix instance (the comparison);
report: tables.
"""
