"""``fl-node audit`` and ``fl-node challenge``: recompute posted rounds from the chain and store."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from fl_node.commands import argtypes
from fl_node.commands.common import (
    add_chain_options,
    add_key_options,
    add_store_options,
    connect,
    open_store,
    signer,
)
from fl_node.commands.taskopts import EXAMPLE_EVALUATOR, task_api, task_config
from fl_node.errors import ConfigError

if TYPE_CHECKING:  # the parser is built on every start: these load when a handler runs
    from fl_node.chain.client import ChainClient
    from fl_node.config import TaskConfig
    from fl_node.federation.audit import Check
    from fl_node.federation.protocol import FederationApi


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="recompute posted rounds from the chain and the store; non-zero exit on a finding",
        description="An independent recomputation. First the evidence: the parent model, every "
        "revealed update (from its client's prefix), the posted global model and results table "
        "must be in the store and hash to their on-chain hashes. Then the global model's hash, "
        "every score, stake payout and reward, and the Merkle root are recomputed and compared "
        "with what the aggregator posted. Point it at a live chain (--rpc, --deployment, "
        "--config, --task, --store) or at a finished run folder (--run), whose saved chain is "
        "reopened. The store is opened read-only. Exit codes: 0 every check passed; 1 posted "
        "numbers wrong (the evidence is intact and the recomputation differs: challenge the "
        "round); 3 evidence missing or altered in the store (the round cannot be verified, which "
        "does not show the aggregator wrong); 2 usage or other error.",
    )
    p.add_argument("--run", type=Path, help="a run folder written by `fl-node demo`")
    add_chain_options(p)
    p.add_argument("--config", help="task config (YAML path or bundled name)")
    p.add_argument("--task", type=argtypes.task_id, help="on-chain task id")
    add_store_options(p)  # opened read-only: the audit never writes, nor creates a bucket
    p.add_argument(
        "--evaluator",
        default=EXAMPLE_EVALUATOR,
        metavar="MODULE:ATTR",
        help="the evaluator of the task's validation data (default: %(default)s)",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--round", type=argtypes.round_number, help="audit this round")
    which.add_argument("--all", action="store_true", help="audit every posted round")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(handler=run)

    c = sub.add_parser(
        "challenge",
        help="challenge a posted round during its challenge window (with the task's bond)",
        description="Raise an on-chain challenge against a posted round (for example after "
        "`fl-node audit` found a mismatch), bonding the task's challenge bond; the round is held "
        "until the arbiter decides. A voided post returns the bond with half of the aggregator's "
        "slashed bond; a kept post gives the bond to the aggregator.",
    )
    add_chain_options(c)
    add_key_options(c)
    c.add_argument("--task", type=argtypes.task_id, required=True, help="on-chain task id")
    c.add_argument(
        "--round", type=argtypes.round_number, required=True, help="the round to challenge"
    )
    c.add_argument("--reason", default="audit mismatch", help="reason (its hash goes on-chain)")
    c.set_defaults(handler=run_challenge)

    r = sub.add_parser(
        "resolve",
        help="decide a challenged round (arbiter only): keep the post or void it",
        description="The arbiter's decision on a challenged round, before the task's arbiter "
        "timeout: --keep-post dismisses the challenge and finalizes the round as posted (the "
        "challenger's bond goes to the aggregator); --void-post upholds the challenge: the round "
        "is aborted, every committer reclaims its stake, and the aggregator's bond is slashed to "
        "the challenger and the committers.",
    )
    add_chain_options(r)
    add_key_options(r)
    r.add_argument("--task", type=argtypes.task_id, required=True, help="on-chain task id")
    r.add_argument(
        "--round", type=argtypes.round_number, required=True, help="the challenged round"
    )
    verdict = r.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--keep-post", action="store_true", help="the post stands")
    verdict.add_argument("--void-post", action="store_true", help="the post is wrong")
    r.set_defaults(handler=run_resolve)


@contextlib.contextmanager
def _target(
    args: argparse.Namespace,
) -> Iterator[tuple[ChainClient, TaskConfig, str, int, str, int]]:
    """(client, config, config reference, task id, the config's store URL, first block) for a
    live chain or a run folder."""
    from fl_node.chain.client import ChainClient
    from fl_node.chain.deployments import Deployment
    from fl_node.config import TaskConfig
    from fl_node.toolchain.localchain import LocalChain

    if args.run is None:
        if args.config is None or args.task is None:
            raise ConfigError("give --run, or --config and --task (and --rpc/--deployment)")
        config = task_config(args)
        client = connect(args)
        deployment = client.deployment
        assert deployment is not None
        yield (
            client,
            config,
            args.config,
            args.task,
            config.store,
            deployment.block_number,
        )
        return
    run_dir = args.run
    for name in ("run.json", "config.yaml", "deployment.json", "chain-state.json"):
        if not (run_dir / name).is_file():
            raise ConfigError(f"{run_dir} is not a finished run folder: {name} is missing")
    config = TaskConfig.load(run_dir / "config.yaml")
    manifest = json.loads((run_dir / "run.json").read_text())
    deployment = Deployment.load(run_dir / "deployment.json")
    with LocalChain(accounts=10, state_path=run_dir / "chain-state.json") as chain:
        client = ChainClient(chain.rpc_url, deployment)
        yield (
            client,
            config,
            str(run_dir / "config.yaml"),
            int(manifest["task_id"]),
            config.store,
            deployment.block_number,
        )


#: Exit codes of ``fl-node audit`` (2 is any usage or other error, as for every command).
EXIT_OK, EXIT_WRONG, EXIT_EVIDENCE = 0, 1, 3


def _print(checks: list[Check]) -> None:
    width = max((len(c.item) for c in checks), default=10)
    for c in checks:
        line = f"round {c.round:>3}  {c.item:<{width}}  {c.status.upper():<10}  {c.posted}"
        if not c.ok:
            line += f"  ({'store' if c.kind == 'evidence' else 'recomputed'}: {c.recomputed})"
        print(line)


def verdicts(checks: list[Check]) -> list[str]:
    """One sentence per round with a finding: evidence missing or altered in the store, or
    posted numbers wrong."""
    out = []
    for number in sorted({c.round for c in checks}):
        mine = [c for c in checks if c.round == number]
        gone = [f"{c.item} ({c.status})" for c in mine if c.status in ("missing", "altered")]
        wrong = [c.item for c in mine if c.status == "wrong"]
        if gone:
            out.append(
                f"round {number}: evidence missing or altered in the store: {', '.join(gone)}. "
                "The round cannot be verified from this store; numbers marked UNVERIFIED were "
                "recomputed without that evidence and do not show that the aggregator posted "
                "wrong numbers."
            )
        if wrong:
            out.append(
                f"round {number}: posted numbers wrong: {', '.join(wrong)}. The evidence in the "
                "store is intact and the recomputation differs: challenge the round "
                f"(fl-node challenge --round {number} ...)."
            )
    return out


def run(args: argparse.Namespace) -> int:
    from fl_node.federation.audit import audit_round, summarize
    from fl_node.federation.setup import load_setup

    with _target(args) as (client, config, config_ref, task_id, store_url, first_block):
        api = task_api(client, task_id)
        store = open_store(args, store_url, read_only=True)
        ctx = load_setup(api, store, config, config_ref, args.evaluator)
        current = api.state().current_round
        if args.round is not None and not 1 <= args.round <= current:
            raise ConfigError(f"--round must be between 1 and {current} (the current round)")
        rounds = [args.round] if args.round is not None else list(range(1, current + 1))
        checks: list[Check] = []
        for number in rounds:
            checks += audit_round(api, store, ctx, number, first_block)
    summary = summarize(checks)
    if args.json:
        print(
            json.dumps([{**c.__dict__, "ok": c.ok, "status": c.status} for c in checks], indent=2)
        )
    else:
        _print(checks)
        for sentence in verdicts(checks):
            print(sentence)
        print(
            f"{summary['checks']} checks: {summary['wrong']} posted number(s) wrong, "
            f"{summary['missing'] + summary['altered']} evidence item(s) missing or altered, "
            f"{summary['unverified']} unverified"
        )
    if summary["wrong"]:
        return EXIT_WRONG
    return EXIT_EVIDENCE if summary["missing"] + summary["altered"] else EXIT_OK


def run_challenge(args: argparse.Namespace) -> int:
    from eth_utils import keccak

    client = connect(args)
    me = signer(args, client.chain_id)
    api: FederationApi = task_api(client, args.task)
    result = api.challenge(me, args.round, keccak(text=args.reason))
    print(f"round {args.round} of task {args.task} challenged (tx {result.tx_hash})")
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    from fl_node.federation.protocol import Phase

    client = connect(args)
    me = signer(args, client.chain_id)
    api = task_api(client, args.task)
    api.resolve(me, args.round, keep_post=bool(args.keep_post))
    phase = Phase(api.round(args.round).phase).name.lower()
    verdict = "post kept" if args.keep_post else "post voided"
    print(f"round {args.round} of task {args.task}: {verdict}, now {phase}")
    return 0
