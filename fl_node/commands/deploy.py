"""``fl-node deploy``: deploy the contract suite and write the deployment file."""

from __future__ import annotations

import argparse
from pathlib import Path

from fl_node.commands import argtypes
from fl_node.commands.common import add_chain_options, add_key_options, connect, signer


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "deploy",
        help="deploy the contract suite and write deployments/<chainId>.json",
        description="Compile (if needed) and deploy the whole suite: base token (local chains), "
        "client-token and pool implementations, registry, stake vault, reward escrow, federation. "
        "An existing deployment file is never replaced silently: without --force the deploy is "
        "refused before any transaction; with it, the old file is kept in deployments/history/.",
    )
    add_chain_options(p, deployment=False)
    add_key_options(p)
    p.add_argument(
        "--base-token",
        help="an existing ERC-20 to use as base token (public networks); checked before "
        "deploying: contract code, the ERC-20 views answer, 0 to 36 decimals",
    )
    p.add_argument(
        "--base-decimals",
        type=argtypes.decimals,
        default=18,
        help="decimals of the dev base token deployed when --base-token is not given (default 18; "
        "6 behaves like USDC)",
    )
    p.add_argument(
        "--withdraw-delay",
        type=argtypes.chain_seconds,
        default=60,
        help="stake withdrawal countdown, s",
    )
    p.add_argument(
        "--dividend-duration",
        type=argtypes.positive_chain_seconds,
        default=3_600,
        help="seconds over which each dividend distribution streams to token holders "
        "(default: %(default)s)",
    )
    roles = p.add_argument_group(
        "roles (the deployer keeps none; local chains default to dev accounts 1000 and 1001)"
    )
    roles.add_argument("--arbiter", help="address that decides challenged rounds")
    roles.add_argument(
        "--governor",
        action="append",
        default=[],
        help="address that may propose changes through the timelock (repeatable; a multisig)",
    )
    roles.add_argument(
        "--timelock-delay",
        type=argtypes.chain_seconds,
        help="seconds every governance change waits in public (default: 2 days; 60 s locally)",
    )
    roles.add_argument(
        "--faucet", help="address allowed to mint the dev base token (default: the deployer)"
    )
    p.add_argument(
        "--out", type=Path, help="deployment file to write (default: deployments/<chainId>.json)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing deployment file (the old one is kept in its history/ folder)",
    )
    p.set_defaults(handler=run)
    register_mint(sub)


def run(args: argparse.Namespace) -> int:
    from fl_node.chain.deploy import SuiteConfig, deploy_suite
    from fl_node.chain.deployments import check_replaceable, default_path, publish
    from fl_node.toolchain.build import compile_contracts

    client = connect(args, need_deployment=False)
    out = Path(args.out or default_path(client.chain_id))
    check_replaceable(out, args.force)
    deployer = signer(args, client.chain_id)
    build = compile_contracts()
    config = SuiteConfig(
        base_token=args.base_token,
        base_decimals=args.base_decimals,
        withdraw_delay=args.withdraw_delay,
        dividend_duration=args.dividend_duration,
        arbiter=args.arbiter,
        governors=tuple(args.governor),
        timelock_delay=args.timelock_delay,
        faucet=args.faucet,
    )
    deployment = deploy_suite(client, deployer, build, config, progress=print)
    kept = publish(deployment, out)
    if kept is not None:
        print(f"the previous deployment file was moved to {kept}")
    print(f"deployment of chain {client.chain_id} written to {out}")
    return 0


def register_mint(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mint",
        help="mint dev base tokens to an address (local chains; needs the minter role)",
        description="Mint base tokens of the deployment's DevToken, e.g. for a sponsor or a "
        "client on a local chain. Public networks use an existing ERC-20 instead.",
    )
    add_chain_options(p)
    add_key_options(p)
    p.add_argument("--to", required=True, help="receiver address")
    p.add_argument(
        "--amount",
        type=argtypes.positive_amount,
        required=True,
        help="amount in base tokens (e.g. 1000)",
    )
    p.set_defaults(handler=run_mint)


def run_mint(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from eth_utils import is_address, to_checksum_address

    from fl_node.chain.contracts import BaseToken
    from fl_node.errors import ConfigError

    if not is_address(args.to):
        raise ConfigError(f"--to {args.to!r} is not an address")
    client = connect(args)
    minter = signer(args, client.chain_id)
    assert client.deployment is not None
    if client.deployment.base_token != "DevToken":
        raise ConfigError("this deployment uses an existing ERC-20 as base token: it cannot mint")
    token = BaseToken(client)
    try:
        amount = token.units(Decimal(str(args.amount)))
    except InvalidOperation:
        raise ConfigError(f"--amount {args.amount!r} is not a number") from None
    if amount <= 0:
        raise ConfigError("--amount must be positive")
    receiver = to_checksum_address(args.to)
    token.mint(minter, receiver, amount)
    print(f"minted {args.amount:g}; {args.to} now holds {token.format(token.balance_of(receiver))}")
    return 0
