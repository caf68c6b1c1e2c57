"""``fl-node demo``: the main job, a whole federation on an embedded Anvil."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fl_node.chain.client import ChainClient
from fl_node.chain.deploy import deploy_suite
from fl_node.chain.keys import account_from_key
from fl_node.toolchain.build import compile_contracts
from fl_node.toolchain.localchain import LocalChain, dev_private_keys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo",
        help="the main job: compile, start an embedded Anvil, deploy, run a federation, report",
        description="Run a whole federation on one machine: an embedded Anvil chain owned by "
        "this process, the contract suite deployed on it, and a report folder at the end.",
    )
    p.add_argument("--out", type=Path, default=Path("runs"), help="folder for run folders")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    print("compiling contracts ...")
    build = compile_contracts()
    with LocalChain(accounts=20) as chain:
        print(f"Anvil (pid {chain.pid}) at {chain.rpc_url}")
        client = ChainClient(chain.rpc_url)
        deployer = account_from_key(dev_private_keys(1)[0])
        deployment = deploy_suite(client, deployer, build, progress=lambda m: print("  " + m))
        run_dir = args.out / time.strftime("demo-%Y%m%d-%H%M%S")
        deployment.save(run_dir / "deployment.json")
        print(f"deployment written to {run_dir / 'deployment.json'}")
    print(f"Anvil stopped; done in {time.monotonic() - started:.1f} s")
    return 0
