"""The command line's store options: the same ``--store``/``--store-option`` on every command
that opens the store, documented in ``--help``, and one clear error for a store that cannot be
shared between processes or is empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_node.cli import build_parser, main
from fl_node.commands.common import open_store
from fl_node.errors import ConfigError

COMMANDS = {
    "node": ["node", "--task", "1", "--index", "0"],
    "aggregate": ["aggregate", "--task", "1"],
    "audit": ["audit", "--config", "tiny", "--task", "1", "--all"],
    "task create": ["task", "create", "--aggregator", "0x" + "22" * 20],
}


def _args(command: str, *extra: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args([*COMMANDS[command], *extra])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_store_command_refuses_a_memory_store(command: str) -> None:
    args = _args(command, "--store", "memory://fed")
    with pytest.raises(ConfigError, match="memory:// store lives inside one process"):
        open_store(args, "file://./store", read_only=command == "audit")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_store_is_an_error_not_the_default(command: str, tmp_path: Path) -> None:
    args = _args(command, "--store", "")
    with pytest.raises(ConfigError, match="--store is empty"):
        open_store(args, f"file://{tmp_path}")


def test_the_default_is_the_configs_store_and_options_are_passed(tmp_path: Path) -> None:
    args = _args("node")
    assert open_store(args, str(tmp_path)).url == str(tmp_path)
    args = _args("node", "--store-option", "region=eu-west-1")
    with pytest.raises(ConfigError, match="store options apply to s3:// stores only"):
        open_store(args, str(tmp_path))


def test_the_audit_opens_its_store_read_only(tmp_path: Path) -> None:
    args = _args("audit", "--store", str(tmp_path / "typo"))
    with pytest.raises(ConfigError, match="no artifact store at"):
        open_store(args, "unused", read_only=True)
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("command", ["node", "aggregate", "audit"])
def test_help_documents_the_s3_settings(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in ("s3://BUCKET/PREFIX", "--store-option", "endpoint_url=URL", "anon=true",
                 "FL_NODE_S3_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):  # fmt: skip
        assert word in text, word


def test_audit_help_gives_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "1 posted numbers wrong" in text and "3 evidence missing or altered" in text
