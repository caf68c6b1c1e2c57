"""``fl-node task``: create a task (the sponsor's side) and show a task's state."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from fl_node.commands import argtypes
from fl_node.commands.common import (
    add_chain_options,
    add_key_options,
    connect,
    help_handler,
    signer,
)
from fl_node.commands.taskopts import (
    add_task_options,
    task_api,
    task_config,
    task_context,
    task_store,
)
from fl_node.errors import ConfigError

if TYPE_CHECKING:  # the parser is built on every start: these load when a handler runs
    from fl_node.config import TaskConfig
    from fl_node.federation.sponsor import TaskSpec


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("task", help="create a training task, or show one")
    tsub = p.add_subparsers(dest="task_command", metavar="<create|show|allow|cancel|close>")
    create = tsub.add_parser(
        "create",
        help="upload the initial model, create the task on-chain, escrow its budget",
        description="The sponsor's command: publishes the config's model and validation spec "
        "hashes and the initial model's hash, and escrows the reward budget.",
    )
    add_chain_options(create)
    add_key_options(create)
    add_task_options(create, task_id=False)
    create.add_argument("--aggregator", required=True, help="address of the task's aggregator")
    create.add_argument(
        "--no-fund", action="store_true", help="create without escrowing the budget"
    )
    own = create.add_argument_group(
        "a task of your own app (default: the config's bundled example app and dataset)"
    )
    own.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="the client app whose model the task trains: its get_parameters() is the initial "
        "model and its layout the task's model spec",
    )
    own.add_argument(
        "--node-config", action="append", default=[], metavar="KEY=VALUE", help="for --app"
    )
    own.add_argument(
        "--evaluator",
        metavar="MODULE:ATTR",
        help="the aggregator's evaluator app: the hash of its spec() is the task's validation spec",
    )
    own.add_argument(
        "--validation-spec-hash",
        metavar="0x...",
        help="the aggregator's validation spec hash, when its evaluator is not at hand",
    )
    create.set_defaults(handler=run_create)
    show = tsub.add_parser("show", help="print a task's state and its rounds")
    add_chain_options(show)
    show.add_argument("--task", type=argtypes.task_id, required=True, help="on-chain task id")
    show.set_defaults(handler=run_show)
    allow = tsub.add_parser(
        "allow",
        help="let clients join an allowlist task, or take that back (sponsor only)",
        description="For a task created with `allowlist: true` in its federation config: only "
        "the clients its sponsor allows may join. Seats already taken are kept.",
    )
    add_chain_options(allow)
    add_key_options(allow)
    allow.add_argument("--task", type=argtypes.task_id, required=True, help="on-chain task id")
    allow.add_argument("clients", nargs="+", metavar="ADDRESS", help="client addresses")
    allow.add_argument("--revoke", action="store_true", help="disallow them instead")
    allow.set_defaults(handler=run_allow)
    for name, text in (
        ("cancel", "cancel an active task and refund its unreleased budget (sponsor only)"),
        ("close", "close a completed task and refund what no round used (sponsor only)"),
    ):
        end = tsub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add_chain_options(end)
        add_key_options(end)
        end.add_argument("--task", type=argtypes.task_id, required=True, help="on-chain task id")
        end.set_defaults(handler=run_end, action=name)

    p.set_defaults(handler=help_handler(p))


def run_create(args: argparse.Namespace) -> int:
    from fl_node.federation.sponsor import create_task

    config = task_config(args)
    client = connect(args)
    sponsor = signer(args, client.chain_id)
    try:
        aggregator = client.w3.to_checksum_address(args.aggregator)
    except ValueError:
        raise ConfigError(f"--aggregator {args.aggregator!r} is not an address") from None
    spec = task_spec(args, config, sponsor.address)
    task_id = create_task(
        client, sponsor, spec, task_store(args, config), aggregator, fund=not args.no_fund
    )
    print(task_id)
    return 0


def task_spec(args: argparse.Namespace, config: TaskConfig, sponsor: str) -> TaskSpec:
    """The task's model and validation spec: the bundled example's, or those of the apps given."""
    from fl_node.app.client import ClientApp, Context, parse_settings
    from fl_node.app.evaluator import EvaluatorApp
    from fl_node.app.layout import ModelLayout
    from fl_node.apps.digits import TASK_CONFIG
    from fl_node.federation.sponsor import TaskSpec

    if args.app is None:
        if args.evaluator or args.validation_spec_hash or args.node_config:
            raise ConfigError("--evaluator, --validation-spec-hash and --node-config need --app")
        return TaskSpec.bundled(task_context(config))
    context = Context(
        node_id=sponsor,
        node_config=parse_settings(args.node_config),
        run_config={TASK_CONFIG: args.config},
    )
    app = ClientApp.load(args.app)
    parameters = app.client(context).get_parameters({})
    if args.validation_spec_hash is not None:
        text = args.validation_spec_hash.lower().removeprefix("0x")
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise ConfigError("--validation-spec-hash must be 0x and 64 hex digits")
        validation = bytes.fromhex(text)
    elif args.evaluator is not None:
        layout = ModelLayout.of(parameters, f"{args.app}'s get_parameters")
        validation = EvaluatorApp.load(args.evaluator, context, layout).spec_hash()
    else:
        raise ConfigError(
            "a task of your own app needs the aggregator's validation spec: give --evaluator "
            "(its evaluator app) or --validation-spec-hash"
        )
    return TaskSpec.of_app(config, list(parameters), validation)


def run_show(args: argparse.Namespace) -> int:
    from fl_node.config import format_units
    from fl_node.federation.protocol import Phase, TaskStatus, hex32

    client = connect(args)
    api = task_api(client, args.task)
    params, state = api.params(), api.state()
    decimals = api.decimals

    def fmt(value: int) -> str:
        return format_units(value, decimals)

    print(
        f"task {args.task}: {TaskStatus(state.status).name.lower()}, round "
        f"{state.current_round}/{params.num_rounds}, {state.participants} participant(s) "
        f"(round 1 needs {params.min_clients})"
    )
    print(
        f"  aggregator {params.aggregator} (bond {fmt(state.bond)} of "
        f"{fmt(params.aggregator_bond)}), latest model {hex32(state.latest_model_hash)}"
    )
    print(
        f"  stake min {fmt(params.stake_min)}, join bond {fmt(params.join_bond)}, challenge bond "
        f"{fmt(params.challenge_bond)}, claim window {params.claim_window} s"
    )
    for number in range(1, state.current_round + 1):
        info = api.round(number)
        print(
            f"  round {number}: {Phase(info.phase).name.lower():<10} commits {info.commits:<3} "
            f"reveals {info.reveals:<3} at risk {fmt(info.total_at_risk):>12}  "
            f"model {hex32(info.model_hash)[:18]}"
        )
        if info.total_reward or info.total_payout:
            print(
                f"      claimed: rewards {fmt(info.reward_paid)} of {fmt(info.total_reward)}, "
                f"stake payouts {fmt(info.payout_paid)} of {fmt(info.total_payout)}"
            )
    return 0


def run_allow(args: argparse.Namespace) -> int:
    client = connect(args)
    sponsor = signer(args, client.chain_id)
    api = task_api(client, args.task)
    addresses = []
    for text in args.clients:
        try:
            addresses.append(client.w3.to_checksum_address(text))
        except ValueError:
            raise ConfigError(f"{text!r} is not an address") from None
    if not api.params().allowlist:
        raise ConfigError(f"task {args.task} has no allowlist: any registered client may join")
    api.set_allowed(sponsor, addresses, not args.revoke)
    verb = "may no longer join" if args.revoke else "may join"
    print(f"{len(addresses)} client(s) {verb} task {args.task}")
    return 0


def run_end(args: argparse.Namespace) -> int:
    from fl_node.config import format_units
    from fl_node.federation.protocol import TaskStatus

    client = connect(args)
    sponsor = signer(args, client.chain_id)
    api = task_api(client, args.task)
    before = api.base_balance(sponsor.address)
    if args.action == "cancel":
        api.cancel_task(sponsor)
    else:
        api.close_task(sponsor)
    refunded = api.base_balance(sponsor.address) - before
    status = TaskStatus(api.state().status).name.lower()
    print(
        f"task {args.task} {status}; {format_units(refunded, api.decimals)} base tokens refunded "
        f"to {sponsor.address}"
    )
    return 0
