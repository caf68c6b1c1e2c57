"""``fl-node aggregate``: the aggregator daemon."""

from __future__ import annotations

import argparse

from fl_node.commands import argtypes
from fl_node.commands.common import add_chain_options, add_key_options, connect, signer
from fl_node.commands.netopts import add_network_options, apply_network_options
from fl_node.commands.taskopts import (
    EXAMPLE_EVALUATOR,
    add_task_options,
    task_api,
    task_config,
    task_store,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "aggregate",
        help="run the aggregator: open rounds, aggregate, score, post, finalize",
        description="The coordinator daemon. Bonds the task's aggregator bond, opens round 1 "
        "once the task's minimum of clients has joined, waits for every participant's commit "
        "and reveal (or the deadlines), verifies the revealed blobs, aggregates, scores "
        "contributions on your evaluator's validation data, posts the new model hash and the "
        "results' Merkle root, finalizes after the challenge window, ends rounds that cannot "
        "finish and settles stakes that must be burned. Safe to kill and restart.",
    )
    add_chain_options(p)
    add_network_options(p)
    add_key_options(p)
    add_task_options(p)
    p.add_argument(
        "--evaluator",
        default=EXAMPLE_EVALUATOR,
        metavar="MODULE:ATTR",
        help="your evaluator app: evaluator_fn(context) returning an evaluator of your validation "
        "data, whose spec must hash to the task's validation spec (default: %(default)s)",
    )
    p.add_argument(
        "--max-seconds", type=argtypes.seconds, help="give up after this long (default: never)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fl_node.federation.aggregator import AggregatorDaemon
    from fl_node.federation.setup import load_setup

    config = task_config(args)
    client = connect(args)

    def log(msg: str) -> None:
        print(f"[aggregator] {msg}", flush=True)

    apply_network_options(client, args, log)  # from here on, RPC outages are waited out
    me = signer(args, client.chain_id)
    api = task_api(client, args.task)
    store = task_store(args, config)
    setup = load_setup(api, store, config, args.config, args.evaluator, me.address)
    daemon = AggregatorDaemon(
        api=api,
        signer=me,
        setup=setup,
        store=store,
        workdir=args.workdir,
        log=log,
    )
    daemon.run(args.max_seconds)
    return 0
