"""Signing keys: an encrypted keystore (Ethereum's V3 JSON), a hex key file, or ``$FL_NODE_KEY``.

A private key never comes from the command line, where the process list and the shell history
would show it: ``--key-file`` names a file (a keystore or a hex key, told apart by content), and
``fl-node account import`` reads a hex key from a file or stdin. A keystore's password comes from
``$FL_NODE_PASSWORD`` or, in a terminal, from a prompt that does not echo.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from fl_node.errors import ConfigError

#: The environment variable holding a raw hex key (for containers and CI secrets).
KEY_ENV = "FL_NODE_KEY"
#: The environment variable holding a keystore's password.
PASSWORD_ENV = "FL_NODE_PASSWORD"

_KEY_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def account_from_key(key: str, source: str = "the key") -> LocalAccount:
    """A signing account from a 32-byte hex private key; clear error on anything else."""
    key = key.strip()
    if not _KEY_RE.match(key):
        raise ConfigError(
            f"{source} is not a private key: expected 64 hex digits (optionally 0x-prefixed)"
        )
    return Account.from_key(key if key.startswith("0x") else "0x" + key)


# -- keystores -----------------------------------------------------------------------------------
def looks_like_keystore(text: str) -> bool:
    """Whether a key file's text is JSON (a keystore) rather than a hex key."""
    return text.lstrip().startswith("{")


def parse_keystore(text: str, source: str) -> dict[str, Any]:
    """A V3 keystore's JSON, checked for the fields decryption needs."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not a keystore: invalid JSON ({exc})") from None
    crypto = data.get("crypto", data.get("Crypto")) if isinstance(data, dict) else None
    if not isinstance(crypto, dict) or data.get("version") != 3:
        raise ConfigError(f"{source} is not a V3 keystore (no 'crypto' section or not version 3)")
    return dict(data)


def keystore_address(keystore: dict[str, Any]) -> str | None:
    """The address a keystore records in clear (None when it records none)."""
    raw = keystore.get("address")
    if not isinstance(raw, str):
        return None
    text = raw if raw.startswith("0x") else "0x" + raw
    return str(to_checksum_address(text)) if is_address(text) else None


def has_terminal() -> bool:
    """Whether a password can be asked for (the process has a controlling terminal)."""
    try:
        with open("/dev/tty"):
            return True
    except OSError:
        return False


def read_password(purpose: str, *, confirm: bool = False, env_var: str = PASSWORD_ENV) -> str:
    """A password from ``$env_var``, else from a terminal prompt; a clear error with neither."""
    value = os.environ.get(env_var)
    if value is not None:
        return value
    if not has_terminal():
        raise ConfigError(
            f"{purpose} needs a password: set ${env_var} (there is no terminal to ask in)"
        )
    password = getpass.getpass(f"password for {purpose}: ")
    if confirm and getpass.getpass("repeat the password: ") != password:
        raise ConfigError("the two passwords differ")
    return password


def decrypt_keystore(
    keystore: dict[str, Any], source: str, password: str | None = None
) -> LocalAccount:
    """The account of a keystore; the password is read (env or prompt) when not given."""
    if password is None:
        password = read_password(source)
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise ConfigError(
                f"wrong password for {source} (from ${PASSWORD_ENV} or the prompt)"
            ) from None
        raise ConfigError(f"{source} is not a usable keystore ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{source} is not a usable keystore (missing {exc})") from None
    return Account.from_key(key)


def encrypt_key(account: LocalAccount, password: str) -> dict[str, Any]:
    """A standard V3 keystore of ``account`` (scrypt, as geth and eth-account write them)."""
    if not password:
        raise ConfigError("refusing an empty password: a keystore is only as safe as its password")
    return dict(Account.encrypt(account.key, password))


# -- key files -----------------------------------------------------------------------------------
def _read_key_text(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"key file {path} does not exist")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Still usable, but say it: a key readable by others is a key shared with them.
        print(
            f"warning: key file {path} is readable by other users (chmod 600 it)", file=sys.stderr
        )
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read key file {path} ({exc})") from None


def read_key_file(path: Path, password: str | None = None) -> LocalAccount:
    """The account of a key file: a V3 keystore (decrypted) or a file holding a hex key."""
    text = _read_key_text(path)
    source = f"key file {path}"
    if looks_like_keystore(text):
        return decrypt_keystore(parse_keystore(text, source), source, password)
    if not _KEY_RE.match(text.strip()):
        raise ConfigError(
            f"{source} is neither a keystore (JSON) nor a private key (64 hex digits)"
        )
    return account_from_key(text, source=source)


def key_file_address(path: Path) -> str:
    """The address of a key file; a keystore that records its address is not decrypted."""
    text = _read_key_text(path)
    if looks_like_keystore(text):
        recorded = keystore_address(parse_keystore(text, f"key file {path}"))
        if recorded is not None:
            return recorded
    return str(read_key_file(path).address)


def load_account(key_file: Path | None = None, env_var: str = KEY_ENV) -> LocalAccount:
    """The signer of this node: ``key_file`` (keystore or hex), else ``$FL_NODE_KEY``."""
    if key_file is not None:
        return read_key_file(key_file)
    value = os.environ.get(env_var)
    if value:
        return account_from_key(value, source=f"${env_var}")
    raise ConfigError(
        f"no signing key: pass --key-file PATH (a keystore or a hex key file) or set ${env_var}"
    )


def _write_private(path: Path, text: str) -> Path:
    """Create ``path`` readable only by its owner; an existing file is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists: a key file is never overwritten") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def write_keystore(path: Path, account: LocalAccount, password: str) -> Path:
    """Write ``account`` as an encrypted V3 keystore (mode 0600) at a new ``path``."""
    return _write_private(path, json.dumps(encrypt_key(account, password), indent=1) + "\n")


def write_key_file(path: Path, key: str) -> Path:
    """Write a raw hex private key readable only by its owner (local chains and tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return path
