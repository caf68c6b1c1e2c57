"""``fl-node chain``: run a local Anvil chain in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fl_node.commands.common import positive_int
from fl_node.toolchain.localchain import LocalChain


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "chain",
        help="run a local Anvil chain in the foreground (Ctrl-C stops it)",
        description="Start a local Anvil chain owned by this process; Ctrl-C stops it cleanly "
        "(saving its state first when --state is given).",
    )
    p.add_argument("--port", type=positive_int, default=8545, help="port (default: %(default)s)")
    p.add_argument("--accounts", type=positive_int, default=20, help="funded dev accounts")
    p.add_argument(
        "--state", type=Path, help="load the chain state from this file and save it on exit"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    chain = LocalChain(port=args.port, accounts=args.accounts, state_path=args.state)
    with chain:
        print(f"Anvil (pid {chain.pid}) listening at {chain.rpc_url}, chain id {chain.chain_id}")
        print("Ctrl-C to stop")
        try:
            while chain.is_running():
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopping")
    return 0
