"""Options shared by the subcommands, and the objects built from them."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from eth_account.signers.local import LocalAccount

from fl_node.chain.client import ChainClient
from fl_node.chain.deployments import Deployment, default_path
from fl_node.chain.keys import account_from_key, load_account
from fl_node.errors import ConfigError
from fl_node.federation.protocol import Phase

if TYPE_CHECKING:
    from fl_node.simulation.localfed import Progress
from fl_node.toolchain.localchain import DEV_CHAIN_ID, dev_private_key

DEFAULT_RPC = "http://127.0.0.1:8545"


def add_chain_options(parser: argparse.ArgumentParser, deployment: bool = True) -> None:
    group = parser.add_argument_group("chain")
    group.add_argument("--rpc", default=DEFAULT_RPC, help="JSON-RPC URL (default: %(default)s)")
    if deployment:
        group.add_argument(
            "--deployment",
            type=Path,
            default=None,
            help="deployment file with addresses and ABIs (default: deployments/<chainId>.json)",
        )


def add_key_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("signing key (one of)")
    group.add_argument("--key-file", type=Path, help="file holding the hex private key")
    group.add_argument(
        "--dev-account",
        type=int,
        metavar="N",
        help="use local dev account N of Anvil's public test mnemonic (local chains only)",
    )
    group.epilog = "or set FL_NODE_KEY"  # type: ignore[attr-defined]


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def connect(args: argparse.Namespace, need_deployment: bool = True) -> ChainClient:
    """A client on ``--rpc``, with the deployment file checked against the chain id."""
    client = ChainClient(args.rpc)
    if not need_deployment:
        return client
    path = getattr(args, "deployment", None) or default_path(client.chain_id)
    deployment = Deployment.load(Path(path))
    return ChainClient(args.rpc, deployment)


def signer(args: argparse.Namespace, chain_id: int) -> LocalAccount:
    index = getattr(args, "dev_account", None)
    if index is not None:
        if chain_id != DEV_CHAIN_ID:
            raise ConfigError(
                f"--dev-account only works on local dev chains (chain id {DEV_CHAIN_ID}), this "
                f"is chain id {chain_id}: use --key-file"
            )
        if not 0 <= index < 2**31:
            raise ConfigError("--dev-account must be between 0 and 2**31 - 1")
        return account_from_key(dev_private_key(index))
    return load_account(key_file=getattr(args, "key_file", None))


def help_handler(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler of a command group called without a subcommand: its help, and exit code 2."""

    def show_help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show_help


@contextmanager
def round_progress(
    total: int,
) -> Iterator[tuple[Callable[[Progress], None], Callable[[str], None]]]:
    """A progress bar over a federation's rounds: ``(on_tick, say)``, where ``on_tick`` takes
    the runner's progress and redraws only when it changed, and ``say`` prints above the bar."""
    from tqdm import tqdm

    with tqdm(total=total, unit="round", desc="federation", dynamic_ncols=True) as bar:
        shown: list[tuple[int, int, int]] = []

        def on_tick(p: Progress) -> None:
            state = (p.finalized, p.round, int(p.phase))
            if shown and shown[-1] == state:
                return
            shown[:] = [state]
            bar.n = p.finalized
            bar.set_postfix_str(f"round {p.round}: {Phase(p.phase).name.lower()}")
            bar.refresh()

        yield on_tick, lambda message: tqdm.write("  " + message)
