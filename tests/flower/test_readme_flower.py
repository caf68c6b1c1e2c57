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


#: The chain, the suite and two tasks of the example app, as the README's first block makes them.
SETUP = """set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null' EXIT
RPC=http://127.0.0.1:{port}
APP=$(python -c 'import fl_node.apps.flower_digits as app; print(app.__path__[0])')
fl-node chain --port {port} > chain.log 2>&1 &
fl-node deploy --rpc $RPC --dev-account 0
for who in 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC \\
           0x90F79bf6EB2c4f870365E785982E1f101E93b906 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 \\
           0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc; do
  fl-node mint --rpc $RPC --dev-account 0 --to $who --amount 2000
done
for task in 1 2; do
  fl-node task create --rpc $RPC --dev-account 1 --config $APP/task.yaml \\
      --store file://$PWD/store --aggregator 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
done
"""

#: After the block: each task shown and audited.
CHECKS = """
for task in 1 2; do
  fl-node task show --rpc $RPC --task $task
  fl-node audit --rpc $RPC --config $APP/task.yaml --store file://$PWD/store --task $task --all
done
"""


@pytest.mark.timeout(TIMEOUT + 60)
def test_the_readme_s_simulation_and_native_runs_of_the_app_run_as_written(
    tmp_path: Path,
) -> None:
    """The block after the Deployment Engine's: the same app on Flower's simulation engine (task
    1) and on fl-node's own transport (task 2), on a chain the README's way (its port changed)."""
    chain = free_port()
    block = substitute(
        readme_block(SECTION, nth=1),
        {
            "simulation --task 1": "simulation --rpc $RPC --task 1",
            "fl-node aggregate --dev-account": "fl-node aggregate --rpc $RPC --dev-account",
            "fl-node node --dev-account": "fl-node node --rpc $RPC --dev-account",
        },
    )
    script = SETUP.format(port=chain) + block + CHECKS
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FL_NODE_", "FLWR_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["FLWR_TELEMETRY_ENABLED"] = "0"
    code, output = run_block(script, tmp_path, env, TIMEOUT)
    assert code == 0, output[-4000:]
    for task in (1, 2):
        assert f"task {task}: completed" in output, output[-3000:]
    audits = re.findall(r"(\d+) checks: 0 posted number\(s\) wrong, 0 evidence item\(s\)", output)
    assert len(audits) == 2 and all(int(n) > 0 for n in audits), output[-3000:]
    # the two runtimes made the same models, so they paid the same rewards
    rewards = re.findall(r"claimed: rewards (\S+) of (\S+)", output)
    assert len(rewards) == 6 and rewards[:3] == rewards[3:], rewards
