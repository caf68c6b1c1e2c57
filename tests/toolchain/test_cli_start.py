"""`fl-node` starts fast and refuses bad numbers before any command runs.

Building the parser imports no heavy library (each handler imports what it uses), and every
numeric option of every subcommand, found by walking the parser, turns nan, inf, -1, 1e77, 2**256
and absurdly large integers into one argparse error line (exit code 2), never a traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest

from fl_node import cli
from fl_node.commands import argtypes
from fl_node.errors import ConfigError

#: Libraries that cost a start-up its second(s): none may load while the parser is built.
HEAVY = (
    "brownie",
    "eth_abi",
    "eth_account",
    "eth_keys",
    "eth_utils",
    "fsspec",
    "matplotlib",
    "numpy",
    "pandas",
    "pydantic",
    "scipy",
    "sklearn",
    "torch",
    "tqdm",
    "web3",
    "yaml",
)

#: More digits than Decimal's default context keeps (28): amounts must stay exact.
_PRECISE = "1234567890123456789012345.123456789012345678"

BAD_NUMBERS = ("nan", "inf", "-1", "1e77", "2**256", str(10**100), "9" * 5000)


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command's parser with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases share a parser
                    seen.add(id(sub))
                    yield from _parsers(sub, (*path, name))


def _is_numeric(kind: object) -> bool:
    """Whether an argument type makes numbers: it turns "1" into an int, float or Decimal."""
    if kind is None or not callable(kind):
        return False
    try:
        value = kind("1")
    except Exception:
        return False
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _numeric_options() -> list[tuple[tuple[str, ...], str]]:
    found = []
    for path, parser in _parsers(cli.build_parser()):
        for action in parser._actions:
            if _is_numeric(action.type):
                assert action.option_strings, f"{path}: numeric positional {action.dest}"
                found.append((path, action.option_strings[-1]))
    return found


NUMERIC_OPTIONS = _numeric_options()


def _command_paths() -> list[tuple[str, ...]]:
    return [path for path, _ in _parsers(cli.build_parser())]


def _run_python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.strip()


def test_building_the_parser_imports_nothing_heavy() -> None:
    heavy = _run_python(
        "import sys; from fl_node.cli import build_parser; build_parser(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))"
    )
    assert heavy == "[]"


def test_every_help_page_imports_nothing_heavy() -> None:
    """`--help` formats every default and runs no handler: still nothing heavy, for any command."""
    paths = [list(path) for path in _command_paths()]
    assert len(paths) > 20
    heavy = _run_python(
        "import contextlib, io, sys\n"
        "from fl_node.cli import main\n"
        f"for path in {paths!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try:\n"
        "            main([*path, '--help'])\n"
        "        except SystemExit as exc:\n"
        "            assert exc.code == 0, path\n"
        "    assert out.getvalue().startswith('usage: fl-node'), path\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))"
    )
    assert heavy == "[]"


def test_constants_written_out_for_the_parser_match_their_source() -> None:
    from fl_node.commands import chain, simulate, taskopts
    from fl_node.config import MODES
    from fl_node.federation.setup import DEFAULT_EVALUATOR
    from fl_node.simulation.investors import DEFAULT_POPULATION
    from fl_node.toolchain.localchain import DEV_CHAIN_ID

    assert taskopts.EXAMPLE_EVALUATOR == DEFAULT_EVALUATOR
    assert chain.DEV_CHAIN_ID == DEV_CHAIN_ID
    assert tuple(MODES) == simulate.MODES
    assert simulate.DEFAULT_POPULATION == DEFAULT_POPULATION


def test_the_walk_finds_the_numeric_options() -> None:
    """The fuzz below covers what the walk finds: check that it finds the known ones."""
    found = {(" ".join(path), option) for path, option in NUMERIC_OPTIONS}
    for expected in [
        ("stake deposit", "--amount"),
        ("mint", "--amount"),
        ("task show", "--task"),
        ("round abort", "--round"),
        ("audit", "--round"),
        ("node", "--offer-base"),
        ("node", "--dev-account"),
        ("chain", "--port"),
        ("chain", "--block-time"),
        ("bench fl", "--seeds"),
        ("simulate", "--investor-budget"),
        ("simulate", "--slippage-bps"),
        ("demo", "--timeout"),
        ("deploy", "--base-decimals"),
    ]:
        assert expected in found
    assert len(found) > 40


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cli.main` with every handler replaced by one that fails the test: argparse must refuse."""
    build = cli.build_parser

    def build_guarded() -> argparse.ArgumentParser:
        parser = build()
        for path, sub in _parsers(parser):
            if "handler" in sub._defaults:

                def ran(_args: argparse.Namespace, path: tuple[str, ...] = path) -> int:
                    raise AssertionError(f"the handler of {' '.join(path)} ran")

                sub.set_defaults(handler=ran)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_guarded)


@pytest.mark.parametrize(
    ("path", "option"), NUMERIC_OPTIONS, ids=[" ".join((*p, o)) for p, o in NUMERIC_OPTIONS]
)
def test_a_bad_number_is_one_argparse_error(
    guarded: None,
    capsys: pytest.CaptureFixture[str],
    path: tuple[str, ...],
    option: str,
) -> None:
    for value in BAD_NUMBERS:
        with pytest.raises(SystemExit) as exc:
            cli.main([*path, option, value])
        assert exc.value.code == 2, value
        out, err = capsys.readouterr()
        assert out == ""
        assert "Traceback" not in err
        errors = [line for line in err.splitlines() if "error:" in line]
        assert len(errors) == 1, err
        assert f"error: argument {option}" in errors[0], err
        assert len(errors[0]) < 200, errors[0]


def test_the_installed_command_refuses_a_bad_number_in_one_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fl_node.cli", "stake", "deposit", "--amount", "nan"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.splitlines()[-1] == (
        "fl-node stake deposit: error: argument --amount: nan is not a finite number"
    )


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (argtypes.task_id, "1", 1),
        (argtypes.task_id, str(2**256 - 1), 2**256 - 1),
        (argtypes.round_number, " 7 ", 7),
        (argtypes.port, "65535", 65535),
        (argtypes.seed, "0", 0),
        (argtypes.seed, str(2**64 - 1), 2**64 - 1),
        (argtypes.dev_account, "1000", 1000),
        (argtypes.decimals, "36", 36),
        (argtypes.basis_points, "9999", 9999),
        (argtypes.chain_seconds, "0", 0),
        (argtypes.seconds, "0.5", 0.5),
        (argtypes.seconds, "1e9", 1e9),
        (argtypes.non_negative_seconds, "0", 0.0),
        (argtypes.non_negative_seconds, "-0", 0.0),
        (argtypes.fraction, "0", 0.0),
        (argtypes.fraction, "1", 1.0),
        (argtypes.token_amount, "0", Decimal(0)),
        (argtypes.token_amount, "-0", Decimal(0)),
        (argtypes.positive_amount, "0.000001", Decimal("0.000001")),
        (argtypes.positive_amount, "1e40", Decimal(10) ** 40),
        (argtypes.token_amount, "1e-255", Decimal("1e-255")),
        (argtypes.token_amount, _PRECISE, Decimal(_PRECISE)),
    ],
)
def test_argument_types_take_their_whole_range(kind: object, text: str, value: object) -> None:
    assert callable(kind)
    parsed = kind(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (argtypes.task_id, "0", "0 must be >= 1 (task ids start at 1)"),
        (argtypes.round_number, "0", "0 must be >= 1 (rounds start at 1)"),
        (argtypes.task_id, str(2**256), "is too large: at most 2**256 - 1 (uint256)"),
        (argtypes.task_id, "2**256", "'2**256' is not an integer"),
        (argtypes.task_id, "-" + "9" * 200, "must be >= 1"),
        (argtypes.positive_int, "9" * 5000, "(5000 characters) is too large"),
        (argtypes.port, "0", "0 is not a port (1-65535)"),
        (argtypes.port, "65536", "65536 is not a port (1-65535)"),
        (argtypes.decimals, "37", "37 is too large: at most 36"),
        (argtypes.basis_points, "10000", "at most 9999 basis points"),
        (argtypes.chain_id, str(2**63), "at most 2**63 - 37 (EIP-2294)"),
        (argtypes.seconds, "0", "0 must be a positive number of seconds"),
        (argtypes.seconds, "nan", "nan must be a positive number of seconds"),
        (argtypes.seconds, "1e10", "1e10 seconds is too long"),
        (argtypes.non_negative_seconds, "-0.5", "-0.5 must be a number of seconds >= 0"),
        (argtypes.non_negative_seconds, "inf", "inf must be a number of seconds >= 0"),
        (argtypes.fraction, "1.01", "1.01 must be within [0, 1]"),
        (argtypes.fraction, "nan", "nan is not a finite number"),
        (argtypes.token_amount, "-1", "-1 must be >= 0"),
        (argtypes.token_amount, "sNaN", "sNaN is not a finite number"),
        (argtypes.token_amount, "1e999999999999999999999", "is not a number"),
        (argtypes.positive_amount, "0", "0 must be > 0"),
        (argtypes.positive_amount, "1e41", "more than any account can hold"),
        (argtypes.positive_amount, "0x10", "'0x10' is not a number"),
        (argtypes.positive_amount, "1e-999999999", "below the smallest unit of any token"),
    ],
)
def test_argument_types_refuse_in_one_line(kind: object, text: str, message: str) -> None:
    assert callable(kind)
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        kind(text)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 120


def test_token_units_are_exact_and_fit_a_uint256() -> None:
    assert argtypes.token_units(Decimal("1.5"), 6, "--amount") == 1_500_000
    exact = 1234567890123456789012345123456789012345678
    assert argtypes.token_units(argtypes.token_amount(_PRECISE), 18, "--amount") == exact
    assert argtypes.token_units(Decimal("0.0000015"), 6, "--amount") == 1  # the rest dropped
    assert argtypes.token_units(Decimal(0), 18, "--amount") == 0
    largest = argtypes.token_units(argtypes.MAX_TOKENS, argtypes.MAX_DECIMALS, "--amount")
    assert largest <= argtypes.UINT256_MAX
    with pytest.raises(
        ConfigError, match=r"--amount 1E\+40 is too large for a token of 40 decimals"
    ):
        argtypes.token_units(argtypes.MAX_TOKENS, 40, "--amount")
    with pytest.raises(ConfigError, match="--amount 1E-7 is below the token's smallest unit"):
        argtypes.token_units(Decimal("1e-7"), 6, "--amount")
