"""``fl-node account new|import|show|balance``: encrypted keystores and what an account holds.

Keystores are Ethereum's standard V3 JSON (scrypt), written readable by their owner only; the
password comes from ``$FL_NODE_PASSWORD`` or a prompt. A raw private key is read from a file or
stdin, never from the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fl_node.commands import argtypes
from fl_node.commands.common import add_chain_options, add_key_options, help_handler

_PASSWORD_NOTE = "The password comes from $FL_NODE_PASSWORD, or a prompt in a terminal."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "account",
        help="create, import and inspect signing keys; an account's balances",
        description="Encrypted keystores for --key-file, and the ETH, base-token and stake "
        "balances of an account on a deployment.",
    )
    asub = p.add_subparsers(dest="account_command", metavar="<action>")

    new = asub.add_parser(
        "new",
        help="create a new key as an encrypted keystore and print its address",
        description="Create a new private key and write it as an encrypted V3 keystore "
        f"(mode 0600; an existing file is never replaced). {_PASSWORD_NOTE}",
    )
    new.add_argument("--out", type=Path, required=True, help="keystore file to create")
    new.set_defaults(handler=run_new)

    imp = asub.add_parser(
        "import",
        help="encrypt an existing hex private key into a keystore",
        description="Read a hex private key from --from FILE or from stdin (a prompt that does "
        "not echo in a terminal) and write it as an encrypted V3 keystore. The key is never "
        f"taken from the command line. {_PASSWORD_NOTE}",
    )
    imp.add_argument("--out", type=Path, required=True, help="keystore file to create")
    source = imp.add_mutually_exclusive_group()
    source.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="file holding the hex private key (default: stdin)",
    )
    source.add_argument(
        "--dev-account",
        type=argtypes.dev_account,
        metavar="N",
        help="the key of dev account N of Anvil's public test mnemonic, funded on every local "
        "chain whatever its chain id: for rehearsing a public network locally, never for real "
        "funds",
    )
    imp.set_defaults(handler=run_import)

    show = asub.add_parser(
        "show",
        help="print the address of a keystore or key file",
        description="Print the address of a keystore (read from the file, no password needed "
        "when the keystore records it) or of a hex key file.",
    )
    show.add_argument("--key-file", type=Path, required=True, help="a keystore or a hex key file")
    show.set_defaults(handler=run_show)

    bal = asub.add_parser(
        "balance",
        help="ETH, base-token and stake balances of an address or key on a deployment",
        description="Print an account's ETH, its base tokens and its stake in the deployment's "
        "vault (total, locked, free, pending withdrawal). The account is --address, or the "
        "address of the signing key (a keystore is not decrypted when it records its address).",
    )
    add_chain_options(bal)
    bal.add_argument("--address", help="the account to show (instead of a key)")
    add_key_options(bal)
    bal.set_defaults(handler=run_balance)

    p.set_defaults(handler=help_handler(p))


def run_new(args: argparse.Namespace) -> int:
    from eth_account import Account

    from fl_node.chain.keys import read_password, write_keystore

    _check_new(args.out)
    password = read_password(f"the new keystore {args.out}", confirm=True)
    account = Account.create()
    write_keystore(args.out, account, password)
    print(f"{account.address} written to {args.out} (keep the file and its password safe)")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from fl_node.chain.keys import account_from_key, read_password, write_keystore

    _check_new(args.out)
    if args.dev_account is not None:
        from fl_node.toolchain.localchain import dev_private_key

        key, source = dev_private_key(args.dev_account), f"dev account {args.dev_account}"
    else:
        key, source = _read_raw_key(args.source)
    account = account_from_key(key, source=source)
    password = read_password(f"the new keystore {args.out}", confirm=True)
    write_keystore(args.out, account, password)
    print(f"{account.address} written to {args.out}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from fl_node.chain.keys import key_file_address

    print(key_file_address(args.key_file))
    return 0


def run_balance(args: argparse.Namespace) -> int:
    import time

    from fl_node.chain.contracts import StakeVault
    from fl_node.commands.common import connect
    from fl_node.config import format_units

    client = connect(args)
    address = _address(args, client.chain_id)
    vault = StakeVault(client)
    base = vault.base
    stake = vault.stake_of(address)
    fmt = base.format
    print(address)
    print(f"  ETH         {format_units(client.balance_eth(address), 18)}")
    print(f"  base token  {fmt(base.balance_of(address))} {base.symbol()} ({base.address})")
    line = f"  stake       {fmt(stake.balance)}: locked {fmt(stake.locked)}, free {fmt(stake.free)}"
    if stake.pending:
        wait = max(0, stake.unlock_time - int(time.time()))
        line += f", pending withdrawal {fmt(stake.pending)}" + (
            f" (in {wait} s)" if wait else " (ready)"
        )
    print(line)
    return 0


def _check_new(out: Path) -> None:
    from fl_node.errors import ConfigError

    if out.exists():
        raise ConfigError(f"{out} already exists: a key file is never overwritten")


def _read_raw_key(source: Path | None) -> tuple[str, str]:
    """The hex key text and where it came from: a file, a non-echoing prompt, or piped stdin."""
    import getpass

    from fl_node.errors import ConfigError

    if source is not None:
        if not source.is_file():
            raise ConfigError(f"--from {source} does not exist")
        return source.read_text(), f"--from {source}"
    if sys.stdin.isatty():
        return getpass.getpass("private key (hex, not echoed): "), "the private key typed"
    text = sys.stdin.read()
    if not text.strip():
        raise ConfigError("no private key on stdin: pipe it in, or pass --from FILE")
    return text, "the private key on stdin"


def _address(args: argparse.Namespace, chain_id: int) -> str:
    """The account ``balance`` shows: --address, else the signing key's address."""
    import os

    from eth_utils import is_address, to_checksum_address

    from fl_node.chain.keys import KEY_ENV, account_from_key, key_file_address
    from fl_node.commands.common import signer
    from fl_node.errors import ConfigError

    keys = [
        name
        for name, value in (
            ("--key-file", args.key_file),
            ("--dev-account", args.dev_account),
            (f"${KEY_ENV}", os.environ.get(KEY_ENV) or None),
        )
        if value is not None
    ]
    if args.address is not None:
        if keys:
            raise ConfigError(f"pass --address or a key, not --address and {' and '.join(keys)}")
        if not is_address(args.address):
            raise ConfigError(f"--address {args.address!r} is not an address")
        return str(to_checksum_address(args.address))
    if keys == ["--key-file"]:
        return key_file_address(args.key_file)
    if keys == [f"${KEY_ENV}"]:
        return str(account_from_key(os.environ[KEY_ENV], source=f"${KEY_ENV}").address)
    if not keys:
        raise ConfigError(
            f"which account? pass --address ADDR, --key-file PATH or --dev-account N (or set "
            f"${KEY_ENV})"
        )
    return str(signer(args, chain_id).address)  # --dev-account, or a clear error for several
