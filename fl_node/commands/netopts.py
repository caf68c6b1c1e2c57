"""Options of the daemons for public networks: fee caps and a confirmation depth.

Like the other option modules it imports only the standard library at the top: the parser is
built on every start.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fl_node.chain.client import ChainClient

#: The highest fee cap the options take (gwei per gas): far above any network's fees.
MAX_GWEI = 1_000_000.0
#: The deepest confirmation wait the options take (blocks).
MAX_CONFIRMATIONS = 1_000


def gwei(text: str) -> float:
    """A fee in gwei per gas: finite, >= 0, at most :data:`MAX_GWEI`."""
    try:
        value = float(text.strip()) if len(text) <= 40 else math.nan
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of gwei") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_GWEI:
        raise argparse.ArgumentTypeError(
            f"{text[:40]} must be a number of gwei between 0 and {MAX_GWEI:g}"
        )
    return value


def confirmations(text: str) -> int:
    """A number of blocks, 0 to :data:`MAX_CONFIRMATIONS`."""
    try:
        value = int(text.strip()) if len(text) <= 10 else -1
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of blocks") from None
    if not 0 <= value <= MAX_CONFIRMATIONS:
        raise argparse.ArgumentTypeError(
            f"{text[:40]} must be a number of blocks between 0 and {MAX_CONFIRMATIONS}"
        )
    return value


def add_network_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("public networks")
    group.add_argument(
        "--confirmations",
        type=confirmations,
        metavar="N",
        help="blocks to wait after a transaction's block before its effect counts (default: 0 "
        "on local dev chains, chain id 31337 or 1337 or an Anvil, Ganache or Hardhat node; 2 "
        "elsewhere)",
    )
    group.add_argument(
        "--max-fee-gwei",
        type=gwei,
        metavar="GWEI",
        help="never pay more than this per gas (caps EIP-1559's max fee, 2 x base fee + tip; "
        "a transaction waits while the base fee is higher). Default: no cap",
    )
    group.add_argument(
        "--priority-fee-gwei",
        type=gwei,
        metavar="GWEI",
        help="never tip more than this per gas (default: the node's suggested tip)",
    )


def apply_network_options(
    client: ChainClient, args: argparse.Namespace, log: Callable[[str], None] | None = None
) -> None:
    """Set ``client``'s fee caps and confirmation depth from the options; with ``log`` (a
    daemon), also have it wait out RPC outages of any length, logging them."""
    from fl_node.chain.fees import FeePolicy

    client.fee_policy = FeePolicy.from_gwei(
        getattr(args, "max_fee_gwei", None), getattr(args, "priority_fee_gwei", None)
    )
    chosen = getattr(args, "confirmations", None)
    if chosen is not None:
        client.confirmations = chosen
    if log is not None:
        client.keep_trying(log)
