"""The README's quick start, run line by line as a newcomer would type it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.rig.nsd import NsdServer
from tests.rig.tools import port_open, require, wait_for_port

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_lines() -> list[str]:
    text = README.read_text()
    block = re.search(r"<!-- quickstart -->\s*```sh\n(.*?)```", text, re.S)
    assert block, "README has no quick start block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _dns_on_loopback(config: Path, nameserver: str) -> None:
    """The one deviation from the README: delivery asks the test DNS server, not the system's
    (tests touch nothing but loopback)."""
    text = config.read_text().replace("nameservers = []", f'nameservers = ["{nameserver}"]')
    assert nameserver in text
    config.write_text(text)


def test_readme_quick_start_sends_a_first_message(tmp_path: Path, nsd: NsdServer) -> None:
    require("swaks")
    taken = [port for port in (2587, 2465, 2525, 8025) if port_open(port)]
    assert not taken, f"ports {taken} are taken; the quick start uses the default ports"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cwd, server, outputs = tmp_path, None, []
    try:
        for line in quickstart_lines():
            if line.startswith("cd "):
                cwd = cwd / line.split(maxsplit=1)[1]
            elif line.endswith("&"):
                server = subprocess.Popen(
                    shlex.split(line[:-1]),
                    cwd=cwd,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                wait_for_port(2587, timeout=20, alive=lambda s=server: s.poll() is None)
            else:
                done = subprocess.run(
                    shlex.split(line), cwd=cwd, env=env, capture_output=True, text=True, timeout=60
                )
                assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
                outputs.append(done.stdout)
                if line.startswith("relay init"):
                    _dns_on_loopback(cwd / line.split()[-1] / "relay.toml", nsd.nameserver)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    swaks_output = next(o for o in outputs if "queued as" in o)
    queue_id = swaks_output.split("queued as ")[1].split()[0]
    assert queue_id in outputs[-2]  # `relay messages --order 1001` lists it
    assert "mein-shop" in outputs[-1] and "WARNING" in outputs[-1]  # fallback warning shown
