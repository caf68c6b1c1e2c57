"""Options shared by the subcommands, and the objects built from them."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fl_node.commands import argtypes
from fl_node.errors import ConfigError

if TYPE_CHECKING:  # the parser is built on every start: these load when a handler runs
    from eth_account.signers.local import LocalAccount

    from fl_node.artifacts.store import ArtifactStore
    from fl_node.chain.client import ChainClient
    from fl_node.simulation.localfed import Progress

DEFAULT_RPC = "http://127.0.0.1:8545"
#: What ``--store`` takes, for the help of every command that opens the artifact store.
STORE_HELP = (
    "artifact store URL shared by the federation's machines: a path or file://PATH (on a shared "
    "disk), or s3://BUCKET/PREFIX; default: the config's `store`"
)
STORE_OPTION_HELP = (
    "a setting of an s3:// store, KEY=VALUE (repeatable): endpoint_url=URL, region=NAME, "
    "profile=NAME, anon=true (read a public bucket). Otherwise the endpoint comes from "
    "FL_NODE_S3_ENDPOINT (or AWS_ENDPOINT_URL), the credentials from AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), the region from AWS_REGION"
)


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
    group = parser.add_argument_group(
        "signing key (one of; a raw key is never taken from the command line)"
    )
    group.add_argument(
        "--key-file",
        type=Path,
        help="a keystore (V3 JSON, from `fl-node account new|import`; password from "
        "$FL_NODE_PASSWORD or a prompt) or a file holding a hex private key; or set FL_NODE_KEY",
    )
    group.add_argument(
        "--dev-account",
        type=argtypes.dev_account,
        metavar="N",
        help="use local dev account N of Anvil's public test mnemonic (local chains only)",
    )
    group.epilog = "or set FL_NODE_KEY"  # type: ignore[attr-defined]


def add_store_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--store`` and ``--store-option`` (see :func:`open_store`)."""
    parser.add_argument("--store", metavar="URL", help=STORE_HELP)
    parser.add_argument(
        "--store-option", action="append", default=[], metavar="KEY=VALUE", help=STORE_OPTION_HELP
    )


def open_store(
    args: argparse.Namespace, default_url: str, read_only: bool = False
) -> ArtifactStore:
    """The store of ``--store`` (else ``default_url``) with its ``--store-option`` settings;
    read-only commands never write to it (nor create a folder or a bucket)."""
    from fl_node.artifacts.shared import open_shared_store

    url = default_url if args.store is None else args.store
    return open_shared_store(url, args.store_option, read_only=read_only)


def connect(args: argparse.Namespace, need_deployment: bool = True) -> ChainClient:
    """A client on ``--rpc``, with the deployment file checked against the chain id and its
    contracts checked to be on the chain."""
    from fl_node.chain.client import ChainClient
    from fl_node.chain.deployments import Deployment, default_path, require_on_chain

    client = ChainClient(args.rpc)
    if not need_deployment:
        return client
    path = getattr(args, "deployment", None) or default_path(client.chain_id)
    deployment = Deployment.load(Path(path))
    client = ChainClient(args.rpc, deployment)
    require_on_chain(deployment, path, lambda address: code_at(client, address))
    return client


def code_at(client: ChainClient, address: str) -> bytes:
    """The contract code at ``address`` (empty: no contract there)."""
    from eth_utils import to_checksum_address

    checksum = to_checksum_address(address)
    return bytes(client.retry.run("get code", lambda: client.w3.eth.get_code(checksum)))


def signer(args: argparse.Namespace, chain_id: int) -> LocalAccount:
    import os

    from fl_node.chain.keys import KEY_ENV, account_from_key, load_account
    from fl_node.toolchain.localchain import DEV_CHAIN_ID, dev_private_key

    index = getattr(args, "dev_account", None)
    given = [
        name
        for name, value in (
            ("--dev-account", index),
            ("--key-file", getattr(args, "key_file", None)),
            (f"${KEY_ENV}", os.environ.get(KEY_ENV) or None),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigError(f"pass one signing key, not {' and '.join(given)}")
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
def count_progress(
    total: int, desc: str, unit: str = "round"
) -> Iterator[tuple[Callable[[int], None], Callable[[str], None]]]:
    """A progress bar over ``total`` steps: ``(tick, say)``, where ``tick`` takes how many are
    done and redraws only when that changed, and ``say`` prints above the bar."""
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, desc=desc, dynamic_ncols=True) as bar:

        def tick(done: int) -> None:
            if done != bar.n:
                bar.n = done
                bar.refresh()

        yield tick, lambda message: tqdm.write("  " + message)


@contextmanager
def round_progress(
    total: int,
) -> Iterator[tuple[Callable[[Progress], None], Callable[[str], None]]]:
    """A progress bar over a federation's rounds: ``(on_tick, say)``, where ``on_tick`` takes
    the runner's progress and redraws only when it changed, and ``say`` prints above the bar."""
    from tqdm import tqdm

    from fl_node.federation.protocol import Phase

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
