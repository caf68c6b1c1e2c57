"""The ``fl-node`` command line: one entry point, one module per subcommand.

A user mistake (bad flag value, missing file, unreachable RPC) ends with one clear ``error:`` line
and exit code 2; only bugs show a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from fl_node import __version__
from fl_node.commands import COMMANDS
from fl_node.errors import FlNodeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fl-node",
        description=(
            "Federated learning where every participant has its own tradeable token. Training "
            "stays on each client's machine (PyTorch); update hashes, contribution scores, stakes, "
            "rewards and the global model's lineage are settled on-chain."
        ),
        epilog="Run `fl-node <command> --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"fl-node {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for module in COMMANDS:
        module.register(sub)
    return parser


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Unwind like Ctrl-C does, so context managers stop the chain and flush state.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except FlNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
