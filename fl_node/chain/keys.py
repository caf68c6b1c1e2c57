"""Private keys for signing: from a key file, an environment variable, or a literal (dev only)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from fl_node.errors import ConfigError

_KEY_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def account_from_key(key: str, source: str = "the key") -> LocalAccount:
    """A signing account from a 32-byte hex private key; clear error on anything else."""
    key = key.strip()
    if not _KEY_RE.match(key):
        raise ConfigError(
            f"{source} is not a private key: expected 64 hex digits (optionally 0x-prefixed)"
        )
    return Account.from_key(key if key.startswith("0x") else "0x" + key)


def load_account(
    key: str | None = None, key_file: Path | None = None, env_var: str = "FL_NODE_KEY"
) -> LocalAccount:
    """The signer of this node, in this order: ``key_file``, ``key``, then ``$FL_NODE_KEY``."""
    if key_file is not None:
        if not key_file.is_file():
            raise ConfigError(f"key file {key_file} does not exist")
        mode = key_file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Still usable, but say it: a key readable by others is a key shared with them.
            print(f"warning: key file {key_file} is readable by other users (chmod 600 it)")
        return account_from_key(key_file.read_text(), source=f"key file {key_file}")
    if key:
        return account_from_key(key, source="--key")
    value = os.environ.get(env_var)
    if value:
        return account_from_key(value, source=f"${env_var}")
    raise ConfigError(f"no signing key: pass --key-file PATH or set ${env_var}")


def write_key_file(path: Path, key: str) -> Path:
    """Write a private key readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return path
