"""``fl-node stake``: a client's stake in the vault: show, deposit, and withdraw by countdown."""

from __future__ import annotations

import argparse
import time

from fl_node.commands import argtypes
from fl_node.commands.common import (
    add_chain_options,
    add_key_options,
    connect,
    help_handler,
    signer,
)
from fl_node.errors import ConfigError


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
            q.add_argument(
                "--amount",
                type=argtypes.positive_amount,
                required=True,
                help="base tokens, e.g. 250",
            )
        q.set_defaults(handler=run, action=name)

    p.set_defaults(handler=help_handler(p))


def run(args: argparse.Namespace) -> int:
    from fl_node.chain.contracts import StakeVault

    client = connect(args)
    me = signer(args, client.chain_id)
    vault = StakeVault(client)
    fmt = vault.base.format

    given = getattr(args, "amount", None)
    amount = 0 if given is None else argtypes.token_units(given, vault.base.decimals, "--amount")
    if args.action == "deposit":
        wallet = vault.base.balance_of(me.address)
        if wallet < amount:
            raise ConfigError(
                f"{me.address} holds {fmt(wallet)} base tokens, cannot deposit {fmt(amount)}"
            )
        vault.deposit(me, amount)  # approves the vault first if its allowance is short
    elif args.action == "request":
        free = vault.free_stake(me.address)
        if free < amount:
            raise ConfigError(
                f"{me.address} has {fmt(free)} free stake (not locked by rounds or task seats, "
                f"not already pending): cannot request {fmt(amount)}"
            )
        vault.request_withdrawal(me, amount)
    elif args.action == "cancel":
        vault.cancel_withdrawal(me)
    elif args.action == "withdraw":
        vault.withdraw(me)
    stake = vault.stake_of(me.address)
    line = (
        f"{me.address}: stake {fmt(stake.balance)}, locked {fmt(stake.locked)}, "
        f"free {fmt(stake.free)}"
    )
    if stake.pending:
        wait = max(0, stake.unlock_time - int(time.time()))
        line += f", withdrawal of {fmt(stake.pending)} pending" + (
            f" (in {wait} s)" if wait else " (ready)"
        )
    print(line)
    return 0
