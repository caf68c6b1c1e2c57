"""``fl-node aggregate``: the aggregator daemon."""

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
from fl_node.federation.aggregator import AggregatorDaemon


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "aggregate",
        help="run the aggregator: open rounds, aggregate, score, post, finalize",
        description="The coordinator daemon. Opens each round, waits for every participant's "
        "commit or the deadline, verifies the committed blobs, aggregates, scores "
        "contributions, posts the new model hash and the results' Merkle root, finalizes after "
        "the challenge window and settles stakes that must be burned. Safe to kill and restart.",
    )
    add_chain_options(p)
    add_key_options(p)
    add_task_options(p)
    p.add_argument("--max-seconds", type=float, help="give up after this long (default: never)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = task_config(args)
    client = connect(args)
    me = signer(args, client.chain_id)
    daemon = AggregatorDaemon(
        api=task_api(client, args.task),
        signer=me,
        ctx=task_context(config),
        store=task_store(args, config),
        workdir=args.workdir,
        log=lambda msg: print(f"[aggregator] {msg}", flush=True),
    )
    daemon.run(args.max_seconds)
    return 0
