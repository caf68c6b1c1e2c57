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
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("flwr")

from tests.toolchain.test_readme_across_machines import free_port, substitute

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Flower apps earn tokens"
TIMEOUT = 600

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "flower-superlink").exists()
    and shutil.which("flower-superlink") is None,
    reason="Flower's deployment engine (flower-superlink) is not installed",
)


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    match = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    assert match, f"no sh block under {SECTION!r}"
    return match.group(1)


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
        readme_block(),
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
    with open(tmp_path / "script.log", "wb") as out:
        run = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
            start_new_session=True,
        )
    output = (tmp_path / "script.log").read_text()
    logs = "\n".join(
        f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(tmp_path.glob("*.log"))
    )
    assert run.returncode == 0, output[-4000:] + logs

    # Flower ran the rounds (its own log lines, streamed by `flwr run --stream`).
    assert re.search(r"\[ROUND 3/3\]", output), output[-3000:]
    # Every round finalized with every client's commit and reveal (`task show`).
    assert "task 1: completed" in output, output[-3000:]
    rounds = re.findall(r"round (\d+): finalized\s+commits (\d+)\s+reveals (\d+)", output)
    assert [r[0] for r in rounds] == ["1", "2", "3"], output[-3000:]
    assert all(c == r == "3" for _, c, r in rounds), rounds
    # Every reward and stake payout was claimed by the SuperNodes' settling mods.
    claims = re.findall(r"claimed: rewards (\S+) of (\S+), stake payouts (\S+) of (\S+)", output)
    assert len(claims) == 3, output[-3000:]
    for paid, total, paid_out, total_out in claims:
        assert float(total) > 0 and paid == total, claims
        assert paid_out == total_out, claims
    # The audit (the block's last command) checked every round and found nothing wrong.
    assert re.search(r"\d+ checks: 0 posted number\(s\) wrong, 0 evidence item\(s\)", output)
