"""``fl-node node``: the participant daemon around a participant's own client app."""

from __future__ import annotations

import argparse

from fl_node.commands import argtypes
from fl_node.commands.common import add_chain_options, add_key_options, connect, signer
from fl_node.commands.netopts import add_network_options, apply_network_options
from fl_node.commands.taskopts import add_task_options, task_api, task_config, task_store

#: The bundled example app (``--index N`` is the shorthand for its slice N).
EXAMPLE_APP = "fl_node.apps.digits:client_fn"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "node",
        help="run a client: your app trains, the node stakes, commits, reveals and claims",
        description="The participant daemon around your own client app (Flower's NumPyClient: "
        "get_parameters, fit, evaluate), whose data never leaves this machine. It first checks "
        "that the task's on-chain config hash is your config's and that your app builds the "
        "task's model (before anything is staked); then it registers the client (creating its "
        "token and pool) if needed, joins the task, keeps its stake deposited, and for each "
        "round fetches the global model, has your app train on it, commits a sealed hash, "
        "uploads and reveals the update once commits close, and settles and claims finished "
        "rounds. Safe to kill and restart.",
    )
    add_chain_options(p)
    add_network_options(p)
    add_key_options(p)
    add_task_options(p)
    app = p.add_argument_group("client app")
    app.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="your client app: a client_fn(context) returning a NumPyClient (or a Flower "
        f"ClientApp, or a NumPyClient class); the current folder is importable (default with "
        f"--index: the bundled example app {EXAMPLE_APP})",
    )
    app.add_argument(
        "--index",
        type=argtypes.client_index,
        help="this client's slot N in the config's client list: partition-id=N for the app, "
        "and the slot's name and market offering",
    )
    p.add_argument(
        "--node-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for your app (context.node_config), e.g. partition-id=3 (repeatable)",
    )
    p.add_argument(
        "--offer-tokens",
        type=argtypes.positive_amount,
        help="open your token's market at registration with this many of your tokens",
    )
    p.add_argument(
        "--offer-base", type=argtypes.positive_amount, help="... against this many base tokens"
    )
    p.add_argument(
        "--node-class",
        metavar="MODULE:ATTR",
        help="a NodeDaemon subclass to run instead of the node (simulated adversaries, e.g. "
        "fl_node.simulation.adversaries:CopycatNode)",
    )
    p.add_argument(
        "--max-seconds", type=argtypes.seconds, help="give up after this long (default: never)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fl_node.app.client import ClientApp, Context, load_reference, parse_settings
    from fl_node.apps.digits import TASK_CONFIG
    from fl_node.errors import ConfigError
    from fl_node.federation.node import NodeDaemon, Offering

    config = task_config(args)
    node_config = parse_settings(args.node_config)
    if args.app is None and args.index is None:
        raise ConfigError(
            "give your client app with --app MODULE:ATTR (or --index N for the bundled example "
            "app on slice N)"
        )
    offer = Offering(float(args.offer_tokens or 0), float(args.offer_base or 0))
    if (offer.tokens > 0) != (offer.base > 0) or min(offer.tokens, offer.base) < 0:
        raise ConfigError("--offer-tokens and --offer-base must both be positive, or both unset")
    label = "node"
    token_name = None
    if args.index is not None:
        profile = config.client(args.index)  # validates the index against max_clients
        node_config.setdefault("partition-id", args.index)
        label, token_name = f"node-{args.index}", profile.name or None
        if args.offer_tokens is None and profile.offer_tokens > 0:
            offer = Offering(profile.offer_tokens, profile.offer_base)
    app = ClientApp.load(args.app or EXAMPLE_APP)
    client = connect(args)

    def log(msg: str) -> None:
        print(f"[{label}] {msg}", flush=True)

    apply_network_options(client, args, log)  # from here on, RPC outages are waited out
    me = signer(args, client.chain_id)
    api = task_api(client, args.task)
    context = Context(
        node_id=me.address,
        node_config=node_config,
        run_config={TASK_CONFIG: args.config},
        run_id=args.task,
    )
    kind = NodeDaemon
    if args.node_class is not None:
        kind = load_reference(args.node_class, "--node-class")
        if not (isinstance(kind, type) and issubclass(kind, NodeDaemon)):
            raise ConfigError(f"--node-class {args.node_class!r} is not a NodeDaemon subclass")
    daemon = kind(
        api=api,
        signer=me,
        config=config,
        app=app,
        context=context,
        store=task_store(args, config),
        workdir=args.workdir,
        label=label,
        offering=offer,
        token_name=token_name,
        log=log,
    )
    daemon.run(args.max_seconds)
    return 0
