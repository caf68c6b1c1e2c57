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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["chain", "--port", "99999"], "99999 is not a port (1-65535)"),
        (["chain", "--block-time", "-1"], "must be a positive number of seconds"),
        (["chain", "--block-time", "inf"], "must be a positive number of seconds"),
        (["chain", "--chain-id", "0"], "0 must be >= 1"),
    ],
)
def test_bad_chain_options_are_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stake", "deposit", "--amount", "nan"], "argument --amount: nan is not a finite number"),
        (["stake", "request", "--amount", "0"], "argument --amount: 0 must be > 0"),
        (["mint", "--to", "0x0", "--amount", "inf"], "inf is not a finite number"),
        (["mint", "--to", "0x0", "--amount", "1e77"], "more than any account can hold"),
        (["task", "show", "--task", "2**256"], "argument --task: '2**256' is not an integer"),
        (["task", "show", "--task", str(2**256)], "is too large: at most 2**256 - 1 (uint256)"),
        (["task", "cancel", "--task", "0"], "0 must be >= 1 (task ids start at 1)"),
        (["round", "abort", "--task", "1", "--round", "0"], "0 must be >= 1 (rounds start at 1)"),
        (["audit", "--all", "--task", "-1"], "argument --task: -1 must be >= 1"),
        (["node", "--task", "1", "--index", "-1"], "argument --index: -1 must be >= 0"),
        (["node", "--task", "1", "--offer-base", "nan"], "nan is not a finite number"),
        (["deploy", "--base-decimals", "37"], "argument --base-decimals: 37 is too large"),
        (["deploy", "--dev-account", str(2**31)], "is too large: at most 2**31 - 1"),
        (["bench", "fl", "--seeds", "0", "-1"], "argument --seeds: -1 must be >= 0"),
        (["simulate", "--slippage-bps", "10000"], "at most 9999 basis points"),
        (["simulate", "--investor-budget", "-5"], "-5 must be > 0"),
        (["demo", "--timeout", "inf"], "inf must be a positive number of seconds"),
        (["demo", "--seed", "1e77"], "argument --seed: '1e77' is not an integer"),
        (["aggregate", "--task", "1", "--max-seconds", "1e77"], "1e77 seconds is too long"),
    ],
)
def test_bad_numbers_are_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_chain_with_another_id_and_a_block_time_mines_on_its_own():
    """`fl-node chain --chain-id --block-time` rehearses a public network: its chain id, and
    blocks that come on a clock rather than on every transaction."""
    import time

    from fl_node.toolchain.localchain import LocalChain, rpc_call

    with LocalChain(chain_id=11155111, block_time=1) as chain:
        assert int(rpc_call(chain.rpc_url, "eth_chainId"), 16) == 11155111
        first = int(rpc_call(chain.rpc_url, "eth_blockNumber"), 16)
        time.sleep(2.5)
        assert int(rpc_call(chain.rpc_url, "eth_blockNumber"), 16) >= first + 2


def test_a_port_in_use_is_one_clear_line(capsys):
    from fl_node.toolchain.localchain import LocalChain

    with LocalChain() as chain:
        assert main(["chain", "--port", str(chain.port)]) == 2
    err = capsys.readouterr().err
    assert f"port {chain.port} on 127.0.0.1 is already in use" in err
    assert "pick another --port" in err
