"""``fl-node chain``: run a local Anvil chain in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fl_node.commands import argtypes

#: Anvil's own chain id (``fl_node.toolchain.localchain.DEV_CHAIN_ID``, which a test keeps equal;
#: written out here so that building the parser starts nothing of the chain tooling).
DEV_CHAIN_ID = 31337


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "chain",
        help="run a local Anvil chain in the foreground (Ctrl-C stops it)",
        description="Start a local Anvil chain owned by this process; Ctrl-C stops it cleanly "
        "(saving its state first when --state is given).",
    )
    p.add_argument("--port", type=argtypes.port, default=8545, help="port (default: %(default)s)")
    p.add_argument(
        "--accounts", type=argtypes.dev_account_count, default=20, help="funded dev accounts"
    )
    p.add_argument(
        "--chain-id",
        type=argtypes.chain_id,
        default=DEV_CHAIN_ID,
        help="chain id (default: %(default)s; e.g. 11155111 to rehearse Sepolia: dev accounts "
        "then need --key-file, as on the real network)",
    )
    p.add_argument(
        "--block-time",
        type=argtypes.seconds,
        help="mine a block every this many seconds, like a real network (default: a block per "
        "transaction)",
    )
    p.add_argument(
        "--state", type=Path, help="load the chain state from this file and save it on exit"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fl_node.toolchain.localchain import LocalChain

    chain = LocalChain(
        port=args.port,
        accounts=args.accounts,
        chain_id=args.chain_id,
        block_time=args.block_time,
        state_path=args.state,
    )
    with chain:
        print(f"Anvil (pid {chain.pid}) listening at {chain.rpc_url}, chain id {chain.chain_id}")
        print("Ctrl-C to stop")
        try:
            while chain.is_running():
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopping")
    return 0
