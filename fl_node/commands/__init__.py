"""Subcommands of ``fl-node``; each module has ``register(subparsers)``."""

from fl_node.commands import (
    account,
    aggregate,
    audit,
    bench,
    chain,
    demo,
    deploy,
    node,
    rounds,
    simulate,
    stake,
    store,
    task,
)

COMMANDS = (
    demo,
    simulate,
    chain,
    deploy,
    account,
    store,
    task,
    node,
    stake,
    aggregate,
    rounds,
    audit,
    bench,
)
