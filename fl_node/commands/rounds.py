"""``fl-node round``: the exits anyone can take when a round cannot end by itself.

Every stake has an exit that needs no other role: a round nobody committed to, one the aggregator
did not post in time, or one the arbiter left undecided can be aborted by anyone; a committer then
reclaims its stake; after a round's claim window anyone can sweep what its claims left back to the
sponsor's budget; and credits (bond refunds, slashes, shortfalls covered by the aggregator's bond)
are withdrawn by their owner.
"""

from __future__ import annotations

import argparse

from fl_node.commands import argtypes
from fl_node.commands.common import (
    add_chain_options,
    add_key_options,
    connect,
    help_handler,
    signer,
)
from fl_node.commands.taskopts import task_api
from fl_node.errors import ConfigError

ACTIONS = {
    "abort": "end a round that cannot finish: nobody committed, no post by the post deadline, "
    "or a challenge the arbiter did not decide in time (anyone)",
    "reclaim": "take back your stake from an aborted round, or from a finalized round whose "
    "claim window ended without your stake being settled",
    "sweep": "after a round's claim window, return what its claims left to the sponsor's budget "
    "(anyone)",
    "credit": "withdraw what the federation owes you (bond refunds, slashes, covered shortfalls)",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "round",
        help="exits that need no other role: abort a stuck round, reclaim, sweep, credit",
        description="Every stake has an exit: these commands work whatever the aggregator, the "
        "arbiter or the sponsor do or fail to do.",
    )
    rsub = p.add_subparsers(dest="round_command", metavar="<" + "|".join(ACTIONS) + ">")
    for name, text in ACTIONS.items():
        q = rsub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add_chain_options(q)
        add_key_options(q)
        if name != "credit":
            q.add_argument("--task", type=argtypes.task_id, required=True, help="on-chain task id")
            q.add_argument("--round", type=argtypes.round_number, required=True, help="the round")
        q.set_defaults(handler=run, action=name)
    p.set_defaults(handler=help_handler(p))


def run(args: argparse.Namespace) -> int:
    from fl_node.federation.protocol import FederationApi

    client = connect(args)
    me = signer(args, client.chain_id)
    if args.action == "credit":
        federation = FederationApi(client)  # credits are per account, not per task
        owed = federation.credit(me.address)
        if owed == 0:
            raise ConfigError(f"the federation owes {me.address} nothing")
        federation.withdraw_credit(me)
        print(f"withdrew {federation.base.format(owed)} base tokens to {me.address}")
        return 0
    api = task_api(client, args.task)
    current = api.state().current_round
    if not 1 <= args.round <= current:
        raise ConfigError(f"--round must be between 1 and {current} (the task's current round)")
    if args.action == "abort":
        api.abort(me, args.round)
    elif args.action == "reclaim":
        api.reclaim(me, args.round)
    else:
        api.sweep(me, args.round)
    print(f"round {args.round} of task {args.task}: {api.round(args.round).phase.name.lower()}")
    return 0
