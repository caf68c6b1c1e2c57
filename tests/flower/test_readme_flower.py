"""The README's "Flower" block, run as written: a local chain and the suite, the example app's
task, Flower's Deployment Engine (a SuperLink, three SuperNodes with their own keys) and ``flwr
run``, then ``task show`` and ``audit``. Only its ports change (to free ones). Afterwards every
round is finalized with three commits and three reveals, every reward and stake payout is claimed,
and the audit found nothing wrong.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest

pytest.importorskip("flwr")

from tests.readme_blocks import (
    assert_settled_and_audited,
    free_port,
    readme_block,
    run_block,
    substitute,
)

SECTION = "## Flower apps earn tokens"
TIMEOUT = 600

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "flower-superlink").exists()
    and shutil.which("flower-superlink") is None,
    reason="Flower's deployment engine (flower-superlink) is not installed",
)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no run of free ports")


@pytest.mark.timeout(TIMEOUT + 60)
def test_the_readme_flower_block_runs_as_written(tmp_path: Path) -> None:
    chain, link, nodes = free_port(), free_port(), free_ports(3)
    script = substitute(
        readme_block(SECTION),
        {
            "--port 8545": f"--port {chain}",
            "http://127.0.0.1:8545": f"http://127.0.0.1:{chain}",
            "--port 9092": f"--port {link}",
            "127.0.0.1:9092": f"127.0.0.1:{link}",
            "9094 + i": f"{nodes} + i",
        },
    )
    assert "8545" not in script and "909" not in script
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FL_NODE_", "FLWR_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["FLWR_TELEMETRY_ENABLED"] = "0"
    code, output = run_block(script, tmp_path, env, TIMEOUT)
    logs = "\n".join(
        f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(tmp_path.glob("*.log"))
    )
    assert code == 0, output[-4000:] + logs

    # Flower ran the rounds (its own log lines, streamed by `flwr run --stream`).
    assert re.search(r"\[ROUND 3/3\]", output), output[-3000:]
    # Every round finalized with every client's commit and reveal, every reward and stake payout
    # claimed by the SuperNodes' settling mods (`task show`); the audit found nothing wrong.
    assert_settled_and_audited(output, rounds=3, clients=3)
