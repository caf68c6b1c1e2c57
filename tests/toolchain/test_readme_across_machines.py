"""The README's "Run a federation across machines", run as written.

The section's shell block is taken from README.md and run with bash in an empty folder; only its
ports change (to free ones), and the participants' RPC URL points at a proxy in front of the
chain, which this test switches off for 20 s in the middle of round 1. The roles share nothing
but the RPC URL, the deployment file, the task id and the S3 store. Afterwards every round is
finalized, every reward and stake payout is claimed, and the audit (the block's last command)
passed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.readme_blocks import (
    ROOT,
    assert_settled_and_audited,
    free_port,
    readme_block,
    run_block,
    substitute,
)
from tests.rpcproxy import RpcProxy

SECTION = "## Run a federation across machines"
OUTAGE = 20.0
TIMEOUT = 900


def _cut_mid_round(
    chain_url: str, deployment: Path, proxy: RpcProxy, done: threading.Event, log: list[str]
) -> None:
    """Once round 1 of task 1 holds a commit, drop every participant's RPC for OUTAGE s."""
    from fl_node.chain.client import ChainClient, ChainError
    from fl_node.chain.deployments import Deployment
    from fl_node.federation.protocol import FederationApi

    while not done.is_set():
        try:
            if deployment.is_file():
                api = FederationApi(ChainClient(chain_url, Deployment.load(deployment)), 1)
                if api.task_count() >= 1 and api.round(1).commits >= 1:
                    break
        except (ChainError, OSError, ValueError):
            pass
        time.sleep(0.2)
    else:
        return
    proxy.down = True
    log.append(f"outage from {time.time():.1f}")
    time.sleep(OUTAGE)
    proxy.down = False
    log.append(f"outage until {time.time():.1f}")


@pytest.mark.timeout(TIMEOUT + 60)
def test_the_readme_federation_across_machines_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    chain_port, s3_port = free_port(), free_port()
    chain_url = f"http://127.0.0.1:{chain_port}"
    with RpcProxy(chain_url) as proxy:
        proxy_port = proxy.url.rsplit(":", 1)[1]
        script = substitute(
            readme_block(SECTION),
            {
                "--port 8545": f"--port {chain_port}",
                "http://127.0.0.1:8545": f"http://127.0.0.1:{proxy_port}",
                "-p 9000": f"-p {s3_port}",
                "http://127.0.0.1:9000": f"http://127.0.0.1:{s3_port}",
            },
        )
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FL_NODE_", "AWS_")) and k != "VIRTUAL_ENV"
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = str(ROOT)  # the block's own `--app` references resolve as in a checkout
        done, outage_log = threading.Event(), []
        deployment = tmp_path / "operator" / "deployments" / "11155111.json"
        cutter = threading.Thread(
            target=_cut_mid_round,
            args=(chain_url, deployment, proxy, done, outage_log),
            daemon=True,
        )
        cutter.start()
        try:
            code, output = run_block(script, tmp_path, env, TIMEOUT)
        finally:
            done.set()
        logs = {p.parent.name: p.read_text() for p in tmp_path.glob("node-*/node.log")}
        assert code == 0, output[-4000:] + "\n".join(
            f"--- {name}\n{text[-1500:]}" for name, text in sorted(logs.items())
        )

    # The outage happened in the middle of round 1, and the daemons said so and carried on.
    assert len(outage_log) == 2, outage_log
    assert any("back after" in text for text in logs.values()), logs
    assert "back after" in output  # the aggregator runs in the foreground of the block

    # Every round finalized, every stake payout and every reward claimed (`task show`); the
    # audit (the block's last command) checked every round and found nothing wrong.
    assert_settled_and_audited(output, rounds=2, clients=3)
