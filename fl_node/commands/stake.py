"""``fl-node stake``: a client's stake in the vault: show, deposit, and withdraw by countdown."""

from __future__ import annotations

import argparse
import math
import time
from decimal import Decimal, InvalidOperation

from fl_node.chain.contracts import StakeVault
from fl_node.commands.common import (
    add_chain_options,
    add_key_options,
    connect,
    help_handler,
    signer,
)
from fl_node.errors import ConfigError

#: No amount anyone can hold: 10**40 whole tokens.
MAX_AMOUNT = Decimal(10) ** 40


def token_amount(text: str) -> Decimal:
    """A positive, finite amount of whole tokens (converted once the token's decimals are known)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or not math.isfinite(float(value)):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    if value > MAX_AMOUNT:
        raise argparse.ArgumentTypeError(f"{text} is more than any account can hold")
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
            q.add_argument(
                "--amount", type=token_amount, required=True, help="base tokens, e.g. 250"
            )
        q.set_defaults(handler=run, action=name)

    p.set_defaults(handler=help_handler(p))


def run(args: argparse.Namespace) -> int:
    client = connect(args)
    me = signer(args, client.chain_id)
    vault = StakeVault(client)
    fmt = vault.base.format

    amount = vault.base.units(args.amount) if getattr(args, "amount", None) else 0
    if getattr(args, "amount", None) and amount == 0:
        raise ConfigError(f"--amount {args.amount} is below the token's smallest unit")
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
