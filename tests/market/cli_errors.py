"""What `fl-node simulate` prints for its help and for a bad command line: the checks the
measurement tests share."""

from __future__ import annotations

import pytest

from fl_node.cli import main


def simulate_help(capsys: pytest.CaptureFixture[str]) -> str:
    """`fl-node simulate --help`'s text (it exits 0)."""
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def argparse_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The usage error of a bad value (exit 2, no traceback)."""
    with pytest.raises(SystemExit) as exc:
        main(["simulate", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    return err


def config_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one-line error of options that do not go together (exit 2, no traceback)."""
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    return err
