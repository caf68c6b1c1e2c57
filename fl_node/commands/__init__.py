"""Subcommands of ``fl-node``; each module has ``register(subparsers)``."""

from fl_node.commands import chain, deploy, demo

COMMANDS = (demo, chain, deploy)
