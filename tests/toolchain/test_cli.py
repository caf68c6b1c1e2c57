"""The command line answers --help and turns user mistakes into one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fl_node.cli import main
from fl_node.toolchain.localchain import free_port


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "chain", "deploy"):
        assert command in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: fl-node" in capsys.readouterr().out


def test_bad_flag_value_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["chain", "--port", "zero"])
    assert exc.value.code == 2
    assert "is not an integer" in capsys.readouterr().err


def test_unreachable_rpc_is_one_clear_line():
    port = free_port()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fl_node.cli",
            "deploy",
            "--rpc",
            f"http://127.0.0.1:{port}",
            "--dev-account",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: cannot reach the chain at")
    assert "Traceback" not in out.stderr
