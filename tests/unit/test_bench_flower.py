"""`fl-node bench flower`: its figures from round timings (pure), and its clear errors."""

from __future__ import annotations

import pytest

from fl_node.bench.flower import _seconds, to_markdown
from fl_node.cli import main


def test_steady_rounds_leave_out_the_first_and_the_last() -> None:
    times = {1: [0.0, 40.0], 2: [40.0, 44.0], 3: [44.0, 50.0], 4: [50.0, 56.5], 5: [57.0]}
    out = _seconds(times)
    assert out["first"] == 40.0 and out["last"] == 6.5  # round 5 never ended: not counted
    assert out["steady"] == pytest.approx(5.0)  # rounds 2 and 3
    assert out["per_round"] == {"1": 40.0, "2": 4.0, "3": 6.0, "4": 6.5}


def test_the_table_says_whether_the_target_is_met() -> None:
    row = {"first": 30.0, "last": 5.0}
    result = {
        "engine": "deployment",
        "rounds": 4,
        "results": [
            {"clients": 3, "plain": {"steady": 10.0}, "settled": {"steady": 12.0, **row},
             "ratio": 1.2},
            {"clients": 8, "plain": {"steady": 10.0}, "settled": {"steady": 13.0, **row},
             "ratio": 1.3},
        ],
    }  # fmt: skip
    text = to_markdown(result)
    assert "| 3 | 10.00 | 12.00 | 1.20x | 30.00 | 5.00 |" in text
    assert text.endswith("3: yes, 8: no")
    assert "deployment engine" in text


def test_too_few_rounds_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "flower", "--rounds", "2"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == "error: --rounds must be at least 3 (the first and last are reported apart)"
    )


def test_an_unknown_engine_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "flower", "--engine", "ray"])
    assert exc.value.code == 2
    assert "argument --engine: invalid choice: 'ray'" in capsys.readouterr().err


def test_the_table_names_the_simulation_engine_s_actors() -> None:
    row = {"first": 12.0, "last": 2.0}
    result = {
        "engine": "simulation",
        "rounds": 6,
        "results": [
            {"clients": n, "actors": 2, "plain": {"steady": 0.3}, "settled": {"steady": 0.9, **row},
             "ratio": 3.0}
            for n in (8, 32)
        ],
    }  # fmt: skip
    assert "Flower's simulation engine (2 Ray actors), same machine" in to_markdown(result)


def test_actors_are_the_simulation_engine_s_setting_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "flower", "--engine", "deployment", "--actors", "2"]) == 2
    assert "--actors sets the simulation engine's" in capsys.readouterr().err


def test_actors_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "flower", "--actors", "0"])
    assert exc.value.code == 2
    assert "argument --actors" in capsys.readouterr().err
