"""Subcommands of ``fl-node``; each module has ``register(subparsers)``."""

from fl_node.commands import (
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
    task,
)

COMMANDS = (
    demo,
    simulate,
    chain,
    deploy,
    task,
    node,
    stake,
    aggregate,
    rounds,
    audit,
    bench,
)
