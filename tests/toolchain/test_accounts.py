"""Signing keys: keystores and hex key files behind --key-file, `fl-node account`, one key only."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from fl_node.chain import keys
from fl_node.chain.keys import (
    decrypt_keystore,
    key_file_address,
    load_account,
    read_key_file,
    read_password,
    write_key_file,
    write_keystore,
)
from fl_node.cli import build_parser, main
from fl_node.commands.common import signer
from fl_node.errors import ConfigError
from fl_node.toolchain.localchain import LocalChain, dev_private_keys

KEY0 = dev_private_keys(1)[0]
ADDR0 = Account.from_key(KEY0).address


def _fast_keystore(path: Path, key: str, password: str, address: bool = True) -> Path:
    """A V3 keystore with cheap scrypt parameters (the real ones take a second per use)."""
    data = dict(Account.encrypt(key, password, iterations=2))
    if not address:
        data.pop("address")
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FL_NODE_KEY", raising=False)
    monkeypatch.delenv("FL_NODE_PASSWORD", raising=False)


@pytest.fixture()
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "has_terminal", lambda: False)


# -- key files -----------------------------------------------------------------------------------
def test_key_file_is_a_keystore_or_a_hex_key(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hex_file = write_key_file(tmp_path / "node.key", KEY0)
    store = _fast_keystore(tmp_path / "node.json", KEY0, "secret")
    monkeypatch.setenv("FL_NODE_PASSWORD", "secret")
    assert load_account(key_file=hex_file).address == ADDR0
    assert load_account(key_file=store).address == ADDR0
    monkeypatch.setenv("FL_NODE_PASSWORD", "wrong")
    with pytest.raises(ConfigError, match=f"wrong password for key file {store}"):
        read_key_file(store)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not a keystore: invalid JSON"),
        ('{"version": 3}', "is not a V3 keystore"),
        ('{"version": 1, "crypto": {}}', "is not a V3 keystore"),
        ("hello", "is neither a keystore (JSON) nor a private key (64 hex digits)"),
        ("0x1234", "is neither a keystore"),
    ],
)
def test_a_bad_key_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_key_file(path, password="x")


def test_a_keystore_with_its_address_is_shown_without_its_password(
    tmp_path: Path, no_terminal: None
) -> None:
    store = _fast_keystore(tmp_path / "a.json", KEY0, "secret")
    assert key_file_address(store) == ADDR0  # no password anywhere, and no terminal to ask
    bare = _fast_keystore(tmp_path / "b.json", KEY0, "secret", address=False)
    with pytest.raises(ConfigError, match=r"needs a password: set \$FL_NODE_PASSWORD"):
        key_file_address(bare)  # must decrypt, and cannot ask


def test_password_from_env_then_prompt_then_a_clear_error(monkeypatch, no_terminal) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="there is no terminal to ask in"):
        read_password("key file k.json")
    monkeypatch.setattr(keys, "has_terminal", lambda: True)
    answers = iter(["one", "two"])
    monkeypatch.setattr(keys.getpass, "getpass", lambda _prompt: next(answers))
    with pytest.raises(ConfigError, match="the two passwords differ"):
        read_password("the new keystore", confirm=True)
    monkeypatch.setattr(keys.getpass, "getpass", lambda _prompt: "typed")
    assert read_password("x", confirm=True) == "typed"
    monkeypatch.setenv("FL_NODE_PASSWORD", "from-env")
    assert read_password("x") == "from-env"


def test_keystores_are_private_never_replaced_and_never_empty(tmp_path: Path) -> None:
    account = Account.from_key(KEY0)
    path = write_keystore(tmp_path / "k.json", account, "pw")
    assert path.stat().st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())
    assert data["version"] == 3 and KEY0[2:] not in path.read_text()
    assert decrypt_keystore(data, "k", "pw").address == ADDR0
    before = path.read_text()
    with pytest.raises(ConfigError, match="already exists: a key file is never overwritten"):
        write_keystore(path, Account.create(), "pw")
    assert path.read_text() == before
    with pytest.raises(ConfigError, match="refusing an empty password"):
        write_keystore(tmp_path / "e.json", account, "")


# -- one signing key -------------------------------------------------------------------------------
def _key_args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**{"dev_account": None, "key_file": None, **given})


def test_one_signing_key_only(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    key_file = write_key_file(tmp_path / "k", dev_private_keys(2)[1])
    with pytest.raises(ConfigError, match="pass one signing key, not --dev-account and --key-file"):
        signer(_key_args(dev_account=0, key_file=key_file), 31337)
    monkeypatch.setenv("FL_NODE_KEY", KEY0)
    with pytest.raises(ConfigError, match=r"not --dev-account and \$FL_NODE_KEY"):
        signer(_key_args(dev_account=3), 31337)
    with pytest.raises(ConfigError, match=r"not --key-file and \$FL_NODE_KEY"):
        signer(_key_args(key_file=key_file), 31337)
    assert signer(_key_args(), 31337).address == ADDR0  # the variable alone
    monkeypatch.delenv("FL_NODE_KEY")
    assert signer(_key_args(key_file=key_file), 31337).address != ADDR0
    assert signer(_key_args(dev_account=0), 31337).address == ADDR0


def test_no_command_takes_a_raw_key_as_an_argument() -> None:
    """A key on the command line shows in `ps` and the shell history: no option may take one."""
    seen: list[str] = []

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            seen.extend(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    walk(child)

    walk(build_parser())
    assert "--key-file" in seen and "--dev-account" in seen
    forbidden = [o for o in seen if o in ("--key", "--private-key", "--secret", "--password")]
    assert forbidden == []


# -- fl-node account -------------------------------------------------------------------------------
def test_account_new_writes_a_keystore_and_prints_its_address(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "keys" / "node.json"
    monkeypatch.setenv("FL_NODE_PASSWORD", "pw")
    assert main(["account", "new", "--out", str(out)]) == 0
    address = capsys.readouterr().out.split()[0]
    assert out.stat().st_mode & 0o777 == 0o600
    assert read_key_file(out).address == address
    assert main(["account", "show", "--key-file", str(out)]) == 0
    assert capsys.readouterr().out.strip() == address
    assert main(["account", "new", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_account_import_reads_the_key_from_a_file_or_stdin(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FL_NODE_PASSWORD", "pw")
    raw = write_key_file(tmp_path / "raw.key", KEY0)
    assert main(["account", "import", "--from", str(raw), "--out", str(tmp_path / "a.json")]) == 0
    assert capsys.readouterr().out.startswith(f"{ADDR0} written to")
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY0[2:] + "\n"))
    assert main(["account", "import", "--out", str(tmp_path / "b.json")]) == 0
    assert read_key_file(tmp_path / "b.json").address == ADDR0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["account", "import", "--out", str(tmp_path / "c.json")]) == 2
    assert "no private key on stdin" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("not a key"))
    assert main(["account", "import", "--out", str(tmp_path / "c.json")]) == 2
    assert "the private key on stdin is not a private key" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


def test_without_a_terminal_or_a_password_variable_the_error_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FL_NODE_PASSWORD"}
    out = subprocess.run(
        [sys.executable, "-m", "fl_node.cli", "account", "new", "--out", str(tmp_path / "k.json")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        start_new_session=True,  # no controlling terminal, as in CI
        timeout=120,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr == (
        f"error: the new keystore {tmp_path / 'k.json'} needs a password: set $FL_NODE_PASSWORD "
        "(there is no terminal to ask in)\n"
    )
    assert not (tmp_path / "k.json").exists()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with LocalChain(accounts=4) as chain:
        path = tmp_path_factory.mktemp("acct") / "deployment.json"
        assert (
            main(["deploy", "--rpc", chain.rpc_url, "--dev-account", "0", "--out", str(path)]) == 0
        )
        yield chain, path


def test_balance_shows_eth_base_tokens_and_stake(
    deployed, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    chain, path = deployed
    common = ["--rpc", chain.rpc_url, "--deployment", str(path)]
    me = Account.from_key(dev_private_keys(3)[2]).address
    assert main(["mint", *common, "--dev-account", "0", "--to", me, "--amount", "300"]) == 0
    assert main(["stake", "deposit", *common, "--dev-account", "2", "--amount", "250"]) == 0
    capsys.readouterr()
    assert main(["account", "balance", *common, "--address", me.lower()]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == me
    assert lines[1].split()[0] == "ETH" and 9999 < float(lines[1].split()[1]) < 10000  # gas paid
    assert lines[2].split()[:4] == ["base", "token", "50", "dUSD"]
    assert lines[3].split() == ["stake", "250:", "locked", "0,", "free", "250"]
    # the same account through a keystore, not decrypted (it records its address)
    store = _fast_keystore(tmp_path / "me.json", dev_private_keys(3)[2], "pw")
    assert main(["account", "balance", *common, "--key-file", str(store)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == me


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--address", "0x12"], "--address '0x12' is not an address"),
        (["--address", ADDR0, "--dev-account", "1"], "pass --address or a key, not --address"),
        ([], "which account? pass --address ADDR"),
        (["--dev-account", "1", "--key-file", "k.json"], "pass one signing key"),
    ],
)
def test_balance_needs_exactly_one_account(deployed, argv, message, capsys) -> None:  # type: ignore[no-untyped-def]
    chain, path = deployed
    common = ["--rpc", chain.rpc_url, "--deployment", str(path)]
    assert main(["account", "balance", *common, *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_keystore_signs_transactions(deployed, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    chain, path = deployed
    store = _fast_keystore(tmp_path / "deployer.json", KEY0, "pw")  # the dev token's minter
    monkeypatch.setenv("FL_NODE_PASSWORD", "pw")
    to = "0x" + "33" * 20
    argv = ["mint", "--rpc", chain.rpc_url, "--deployment", str(path), "--key-file", str(store),
            "--to", to, "--amount", "7"]  # fmt: skip
    assert main(argv) == 0
    assert "now holds 7" in capsys.readouterr().out
    assert main([*argv, "--dev-account", "0"]) == 2
    assert "pass one signing key, not --dev-account and --key-file" in capsys.readouterr().err


def test_a_dev_key_is_imported_for_a_rehearsal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fl_node.chain.keys import load_account
    from fl_node.cli import main
    from fl_node.toolchain.localchain import dev_private_key

    monkeypatch.setenv("FL_NODE_PASSWORD", "pw")
    out = tmp_path / "k.json"
    assert main(["account", "import", "--dev-account", "3", "--out", str(out)]) == 0
    account = load_account(key_file=out)
    assert account.key.hex().removeprefix("0x") == dev_private_key(3).removeprefix("0x")


def test_a_dev_key_and_a_key_file_are_not_both_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fl_node.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(
            ["account", "import", "--dev-account", "3", "--from", "x", "--out", str(tmp_path / "k")]
        )
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
