"""``fl-node stake``: a client's stake in the vault: show, deposit, and withdraw by countdown."""

from __future__ import annotations

import argparse
import time
from decimal import Decimal, InvalidOperation

from fl_node.commands.common import (
    add_chain_options,
    add_key_options,
    connect,
    help_handler,
    signer,
)
from fl_node.errors import ConfigError

WAD = 10**18


def _amount(text: str) -> int:
    try:
        value = int(Decimal(text) * WAD)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "stake",
        help="a client's stake: show, deposit, request a withdrawal, withdraw",
        description="Stakes sit in the StakeVault. Each commit locks part of it until the round "
        "settles. Leaving takes a countdown (request, wait, withdraw) during which the stake "
        "can still be burned by rounds it backed.",
    )
    ssub = p.add_subparsers(dest="stake_command", metavar="<show|deposit|request|cancel|withdraw>")
    for name, text, needs_amount in (
        ("show", "balance, locked, pending withdrawal and countdown", False),
        ("deposit", "deposit base tokens (approves the vault first if needed)", True),
        ("request", "start the withdrawal countdown for an amount of free stake", True),
        ("cancel", "cancel the pending withdrawal", False),
        ("withdraw", "withdraw the pending amount once the countdown is over", False),
    ):
        q = ssub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add_chain_options(q)
        add_key_options(q)
        if needs_amount:
            q.add_argument("--amount", type=_amount, required=True, help="base tokens, e.g. 250")
        q.set_defaults(handler=run, action=name)

    p.set_defaults(handler=help_handler(p))


def run(args: argparse.Namespace) -> int:
    client = connect(args)
    me = signer(args, client.chain_id)
    assert client.deployment is not None
    vault = client.contract("StakeVault")
    base = client.contract(client.deployment.base_token)
    if args.action == "deposit":
        wallet = int(client.call(base.functions.balanceOf(me.address)))
        if wallet < args.amount:
            raise ConfigError(
                f"{me.address} holds {wallet / WAD:g} base tokens, "
                f"cannot deposit {args.amount / WAD:g}"
            )
        if int(client.call(base.functions.allowance(me.address, vault.address))) < args.amount:
            client.send(base.functions.approve(vault.address, args.amount), me)
        client.send(vault.functions.deposit(args.amount), me)
    elif args.action == "request":
        client.send(vault.functions.requestWithdrawal(args.amount), me)
    elif args.action == "cancel":
        client.send(vault.functions.cancelWithdrawal(), me)
    elif args.action == "withdraw":
        client.send(vault.functions.withdraw(), me)
    balance, locked, pending, unlock = client.call(vault.functions.stakeOf(me.address))
    line = (
        f"{me.address}: stake {balance / WAD:g}, locked {locked / WAD:g}, "
        f"free {(balance - locked - pending) / WAD:g}"
    )
    if pending:
        wait = max(0, int(unlock) - int(time.time()))
        line += f", withdrawal of {pending / WAD:g} pending" + (
            f" (in {wait} s)" if wait else " (ready)"
        )
    print(line)
    return 0
