"""``fl-node node``: the participant daemon."""

from __future__ import annotations

import argparse

from fl_node.commands.common import add_chain_options, add_key_options, connect, signer
from fl_node.commands.taskopts import (
    add_task_options,
    task_api,
    task_config,
    task_context,
    task_store,
)
from fl_node.federation.node import NodeDaemon


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "node",
        help="run a client: register, stake, train each round, commit, claim",
        description="The participant daemon. Registers the client (creating its token and "
        "pool) if needed, joins the task, keeps its stake deposited, and for each round fetches "
        "the global model, trains on the client's data, uploads the update, commits its hash "
        "with a stake, and settles and claims finalized rounds. Safe to kill and restart.",
    )
    add_chain_options(p)
    add_key_options(p)
    add_task_options(p)
    p.add_argument(
        "--index",
        type=int,
        required=True,
        help="this client's slot in the config (its data partition and quality profile)",
    )
    p.add_argument("--max-seconds", type=float, help="give up after this long (default: never)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = task_config(args)
    config.client(args.index)  # validates the index against max_clients
    client = connect(args)
    me = signer(args, client.chain_id)
    api = task_api(client, args.task)
    ctx = task_context(config)
    kind = NodeDaemon
    if ctx.profile(args.index).behavior == "copycat":  # a simulated adversary (experiments)
        from fl_node.simulation.adversaries import CopycatNode

        kind = CopycatNode
    daemon = kind(
        api=api,
        signer=me,
        ctx=ctx,
        store=task_store(args, config),
        index=args.index,
        workdir=args.workdir,
        token_name=config.client(args.index).name or None,
        log=lambda msg: print(f"[node {args.index}] {msg}", flush=True),
    )
    daemon.run(args.max_seconds)
    return 0
