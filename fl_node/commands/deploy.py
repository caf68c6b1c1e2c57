"""``fl-node deploy``: deploy the contract suite and write the deployment file."""

from __future__ import annotations

import argparse
from pathlib import Path

from fl_node.chain.deploy import SuiteConfig, deploy_suite
from fl_node.chain.deployments import default_path
from fl_node.commands.common import add_chain_options, add_key_options, connect, signer
from fl_node.toolchain.build import compile_contracts


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "deploy",
        help="deploy the contract suite and write deployments/<chainId>.json",
        description="Compile (if needed) and deploy the whole suite: base token (local chains), "
        "client-token and pool implementations, registry, stake vault, reward escrow, federation.",
    )
    add_chain_options(p, deployment=False)
    add_key_options(p)
    p.add_argument("--base-token", help="an existing ERC-20 to use as base token (public networks)")
    p.add_argument("--withdraw-delay", type=int, default=60, help="stake withdrawal countdown, s")
    p.add_argument(
        "--out", type=Path, help="deployment file to write (default: deployments/<chainId>.json)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    build = compile_contracts()
    client = connect(args, need_deployment=False)
    deployer = signer(args, client.chain_id)
    config = SuiteConfig(base_token=args.base_token, withdraw_delay=args.withdraw_delay)
    deployment = deploy_suite(client, deployer, build, config, progress=print)
    path = deployment.save(args.out or default_path(client.chain_id))
    print(f"deployment of chain {client.chain_id} written to {path}")
    return 0
