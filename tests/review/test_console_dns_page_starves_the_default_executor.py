"""Review 3: one shop's console DNS page can stall everyone's work that runs in worker 0's
default thread pool (another shop's console log-in, SMTP AUTH's scrypt, large messages' body
hash before signing, bounce report parsing).

`GET /console/dns` runs `publish_records` (blocking dnspython lookups of the shop's own
`_dmarc` names, CHECK_TIMEOUT = 3 s each) in `asyncio.to_thread`, i.e. the event loop's
default executor: min(32, CPUs + 4) threads. relay/smtp/auth.py (`verify_password`),
relay/signing.py (`_body_hash`), relay/inbound/listener.py (`reports.parse`) and the console's
own log-in use that same pool. A shop controls its domains' DNS: with name servers that never
answer (or just many domains), each view of its DNS page holds a thread for seconds, and a few
parallel reloads hold all of them. Here the relay's resolver is a UDP socket that never
answers; shop A's staff load the DNS page a dozen times at once, and shop B's log-in, normally
a fraction of a second, waits for them.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from tests.console_app import PASSWORD_A, PASSWORD_B, SHOP_A, SHOP_B, running_console

PARALLEL = 12


def test_shop_a_dns_pages_do_not_hold_up_shop_b_login(tmp_path: Path) -> None:
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blackhole.bind(("127.0.0.1", 0))  # takes queries, answers none
    port = blackhole.getsockname()[1]
    try:
        with running_console(tmp_path, nameserver=f"127.0.0.1:{port}") as console:
            a = console.client()
            assert a.login(SHOP_A, PASSWORD_A).status == 303
            started = time.monotonic()
            assert console.client().login(SHOP_B, PASSWORD_B).status == 303
            quiet = time.monotonic() - started

            loads = [
                threading.Thread(target=a.get, args=("/console/dns",)) for _ in range(PARALLEL)
            ]
            for load in loads:
                load.start()
            time.sleep(0.5)  # the DNS pages have taken the pool's threads
            started = time.monotonic()
            reply = console.client().login(SHOP_B, PASSWORD_B)
            busy = time.monotonic() - started
            for load in loads:
                load.join(timeout=120)
            assert reply.status == 303
            assert busy < quiet + 2.0, f"shop B's log-in took {busy:.1f}s (quiet: {quiet:.2f}s)"
    finally:
        blackhole.close()
