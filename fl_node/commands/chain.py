"""``fl-node chain``: run a local Anvil chain in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fl_node.commands.common import positive_int
from fl_node.toolchain.localchain import DEV_CHAIN_ID, LocalChain


def port_number(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1-65535)")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "chain",
        help="run a local Anvil chain in the foreground (Ctrl-C stops it)",
        description="Start a local Anvil chain owned by this process; Ctrl-C stops it cleanly "
        "(saving its state first when --state is given).",
    )
    p.add_argument("--port", type=port_number, default=8545, help="port (default: %(default)s)")
    p.add_argument("--accounts", type=positive_int, default=20, help="funded dev accounts")
    p.add_argument(
        "--chain-id",
        type=positive_int,
        default=DEV_CHAIN_ID,
        help="chain id (default: %(default)s; e.g. 11155111 to rehearse Sepolia: dev accounts "
        "then need --key-file, as on the real network)",
    )
    p.add_argument(
        "--block-time",
        type=positive_float,
        help="mine a block every this many seconds, like a real network (default: a block per "
        "transaction)",
    )
    p.add_argument(
        "--state", type=Path, help="load the chain state from this file and save it on exit"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
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
