"""Brownie's console and scripts on the chain you name, with the deployed suite attached.

    python -m fl_node.toolchain.brownie_cli console                       # make console
    python -m fl_node.toolchain.brownie_cli --rpc http://127.0.0.1:8546 console
    python -m fl_node.toolchain.brownie_cli console --network fl-sepolia
    python -m fl_node.toolchain.brownie_cli --rpc URL run scripts/deploy.py   # make deploy RPC=URL

``--rpc`` points Brownie's ``anvil`` network at a chain already running on this machine (e.g.
``fl-node chain --port 8546``) for this run only: brownie-config.yaml and Brownie's network file
stay as they are. Every run first registers fl-node's public networks with Brownie
(:mod:`fl_node.toolchain.networks`). The console then attaches the suite of
``deployments/<chainId>.json`` (``Federation[-1]`` is the live federation), or says how to deploy
one.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from urllib.parse import urlparse

from fl_node.errors import ChainError, ConfigError, FlNodeError

#: Brownie's network that ``--rpc`` re-points (a development network: Anvil's unlocked accounts).
ATTACH_NETWORK = "anvil"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fl_node.toolchain.brownie_cli",
        description="Brownie's console or a Brownie script on a chain of your choice, with the "
        "suite fl-node deployed attached to Brownie's contract containers.",
    )
    parser.add_argument(
        "--rpc",
        help="attach to the chain already running at this URL on this machine (e.g. "
        "http://127.0.0.1:8546 from `fl-node chain --port 8546`) instead of the Anvil of "
        "brownie-config.yaml",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    console = sub.add_parser("console", help="the Brownie console with the suite attached")
    console.add_argument("--network", help="a Brownie network id (default: anvil)")
    console.add_argument(
        "--deployment",
        type=Path,
        help="deployment file to attach (default: $FL_DEPLOYMENT or deployments/<chainId>.json)",
    )
    run = sub.add_parser("run", help="`brownie run` with the same --rpc handling")
    run.add_argument("script", nargs=argparse.REMAINDER, help="brownie run's arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except FlNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    from fl_node.toolchain import brownie_receipts, brownie_scripts
    from fl_node.toolchain.localchain import project_root
    from fl_node.toolchain.networks import register_brownie_networks

    os.chdir(project_root())  # Brownie's remappings are relative to the project root
    # Brownie warns about its own internals when it attaches to a running chain: not news here.
    warnings.filterwarnings("ignore", message="rpc.*should not be called directly")
    warnings.filterwarnings("ignore", message="Development network has a block height")
    brownie_receipts.install()  # Anvil's receipt lag is not a dropped transaction
    root = project_root()
    brownie_scripts.install(root, root.resolve())  # a project under a folder named like `v1.2`
    changed = register_brownie_networks()
    if changed:
        print(f"registered Brownie networks: {', '.join(changed)}")
    if args.command == "console":
        network = _network(args.rpc, args.network)
        return console(network, args.deployment)
    rest = list(args.script)
    given = _option(rest, "--network")
    network = _network(args.rpc, given)
    if given is None and network is not None:
        rest += ["--network", network]
    sys.argv = ["brownie", "run", *rest]
    from brownie._cli.__main__ import main as brownie_main

    brownie_main()
    return 0


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _network(rpc: str | None, network: str | None) -> str | None:
    """The Brownie network to connect to; with ``rpc``, the re-pointed ``anvil`` network."""
    from fl_node.toolchain.networks import require_rpc_url

    if rpc is None:
        require_rpc_url(network)
        return network
    if network not in (None, ATTACH_NETWORK):
        raise ConfigError(f"pass --rpc or --network {network}, not both")
    point_anvil_at(rpc)
    return ATTACH_NETWORK


def point_anvil_at(rpc: str) -> None:
    """Make Brownie's ``anvil`` network attach to the chain answering at ``rpc`` (this process
    only): a clear error when the URL has no port or nothing answers there."""
    from fl_node.toolchain.localchain import rpc_call

    parsed = urlparse(rpc)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme not in ("http", "https") or not parsed.hostname or port is None:
        raise ConfigError(
            f"--rpc {rpc!r} is not a URL with a port, such as http://127.0.0.1:8546 (Brownie "
            "attaches to a local chain by its port)"
        )
    try:
        rpc_call(rpc, "eth_chainId")
    except ChainError:
        raise ChainError(
            f"nothing answers at {rpc}: start a chain first (`fl-node chain --port {port}`)"
        ) from None
    from brownie._config import CONFIG

    CONFIG.networks[ATTACH_NETWORK]["host"] = rpc


def console(network: str | None, deployment: Path | None) -> int:
    """Brownie's console (as ``brownie console`` opens it), with the deployment attached."""
    from brownie import network as brownie_network
    from brownie import project
    from brownie._cli.console import Console
    from brownie._config import CONFIG

    from fl_node.toolchain.brownie_suite import attach_deployment

    CONFIG.argv["cli"] = "console"
    active = project.load()
    active.load_config()
    active._add_to_main_namespace()
    print(f"{active._name} is the active project.")
    brownie_network.connect(network or ATTACH_NETWORK)
    try:
        attach_deployment(deployment)
    except FlNodeError as exc:
        print(f"note: no suite attached: {exc}")
        print('deploy one with run("deploy"), or attach another file: run("attach", args=[path])')
    shell = Console(active)
    shell.interact(banner="Brownie environment is ready.", exitmsg="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
