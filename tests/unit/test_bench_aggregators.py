"""The aggregators benchmark on a tiny federation (synthetic data, 3 rounds, 1 seed): the table's
shape, the reputation weights that drop a sign-flip poisoner after round 1, and its errors."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from fl_node.bench.aggregators import (
    AGGREGATORS,
    REPUTATION_PARAMS,
    SWEEP,
    Aggregator,
    Mix,
    default_mixes,
    federations,
    run_bench,
    to_markdown,
)
from fl_node.cli import main
from fl_node.config import TaskConfig
from fl_node.configs import load_config
from fl_node.errors import ConfigError

POISONER = {"name": "mallory", "behavior": "poison_signflip", "poison_scale": 3.0}


def tiny_base(clients: list[dict[str, Any]] | None = None) -> TaskConfig:
    """The tiny config with five clients: four clean ones and a sign-flip poisoner."""
    data = load_config("tiny").to_dict()
    listed = clients or [{"name": n} for n in ("ann", "ben", "cat", "dan")] + [POISONER]
    data["federation"]["max_clients"] = len(listed)
    data["clients"] = listed
    return TaskConfig.from_dict(data)


TINY_AGGREGATORS = (
    Aggregator("fedavg", "fedavg"),
    Aggregator("median", "median"),
    Aggregator("reputation", "reputation", REPUTATION_PARAMS),
)
TINY_SWEEP: tuple[tuple[tuple[str, Any], ...], ...] = ((), (("decay", 0.8),))


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    base = tiny_base()
    mixes = [Mix("demo", "4 clean, 1 sign-flip", tuple(asdict(c) for c in base.clients))]
    reference = Mix("clean_alone", "the 4 clean alone", mixes[0].clients, only=(0, 1, 2, 3))
    ticks: list[str] = []
    out = run_bench(
        base, [0], 3, TINY_AGGREGATORS, mixes, reference, TINY_SWEEP, ticks.append, lambda _: None
    )
    out["_ticks"] = ticks
    return out


def test_the_table_has_every_aggregator_under_every_mix(result: dict[str, Any]) -> None:
    assert list(result["accuracy"]) == ["demo"]
    assert list(result["accuracy"]["demo"]) == ["fedavg", "median", "reputation"]
    for stats in result["accuracy"]["demo"].values():
        assert len(stats["runs"]) == 1 and stats["std"] == 0.0
        assert 0.0 <= stats["mean"] <= 1.0
    assert 0.0 <= result["reference"]["mean"] <= 1.0 and result["reference"]["slots"] == [
        0,
        1,
        2,
        3,
    ]
    curves = result["curves"]["demo"]["reputation"]
    assert len(curves) == 1 and len(curves[0]) == 3 and all(0 <= a <= 1 for a in curves[0])
    assert len(result["_ticks"]) == federations(1, 3, 1, 2)  # the progress bar's total
    json.dumps(result)  # what the command writes


def test_reputation_drops_the_poisoner_after_round_one(result: dict[str, Any]) -> None:
    (per_round,) = result["reputation_shares"]["demo"]
    assert len(per_round) == 3
    assert per_round[0] is None  # round 1: nobody has a record yet, the median decides
    for shares in per_round[1:]:
        assert shares is not None and shares[4] == 0.0  # the poisoner weighs nothing
        assert sum(shares) == pytest.approx(1.0) and min(shares[:4]) > 0  # the clean ones all do


def test_the_sweep_reuses_the_table_s_own_row(result: dict[str, Any]) -> None:
    assert list(result["sweep"]) == ["as in the table", "decay=0.8"]
    assert (
        result["sweep"]["as in the table"]["demo"]["runs"]
        == (result["accuracy"]["demo"]["reputation"]["runs"])
    )
    assert 0.0 <= result["sweep"]["decay=0.8"]["demo"]["mean"] <= 1.0


def test_the_target_compares_reputation_with_the_clean_clients_alone(
    result: dict[str, Any],
) -> None:
    target = result["targets"]["reputation_within_2pt_of_clean_alone_under_demo_mix"]
    assert target["reputation"] == result["accuracy"]["demo"]["reputation"]["mean"]
    assert target["clean_alone"] == result["reference"]["mean"]
    assert target["gap_points"] == pytest.approx(
        100 * (target["clean_alone"] - target["reputation"])
    )
    assert target["met"] == (target["gap_points"] <= 2)


def test_the_markdown_has_the_table_the_reference_the_target_and_the_weights(
    result: dict[str, Any],
) -> None:
    text = to_markdown(result)
    assert "| aggregator | 4 clean, 1 sign-flip |" in text
    assert "| reputation | " in text
    assert "| reference: the 4 clean alone (fedavg) |" in text
    assert "| change | demo |" in text and "| decay=0.8 | " in text
    assert (
        "Target: reputation-weighted aggregation within 2 points of the clean clients alone" in text
    )
    assert "| round | ann | ben | cat | dan | mallory |" in text
    assert "| 1 | fallback | fallback | fallback | fallback | fallback |" in text
    assert "| 3 | " in text and text.count("\n| 3 | ") == 1


def test_the_default_mixes_come_from_the_demo() -> None:
    mixes, reference = default_mixes(load_config("demo"))
    assert [m.name for m in mixes] == ["clean", "demo", "dirichlet_2_poisoners"]
    assert all(len(m.clients) == 8 for m in mixes)
    assert mixes[2].partition == "dirichlet" and mixes[2].alpha == 0.5
    assert [c.get("behavior") for c in mixes[2].clients[:3]] == [
        "poison_signflip",
        "poison_signflip",
        None,
    ]
    assert reference.only == (0, 1, 2, 3)  # alice, bob, carol, dave
    assert federations(5, len(AGGREGATORS), 3, len(SWEEP)) == 5 * (1 + 3 * (5 + len(SWEEP)))


# -- errors ------------------------------------------------------------------------------------
def test_too_few_clients_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="max_clients 3; the mixes need at least 5"):
        default_mixes(load_config("tiny"))


def test_a_config_without_clean_clients_is_one_clear_error() -> None:
    noisy = tiny_base([{"label_noise": 0.2}] * 4 + [POISONER])
    with pytest.raises(ConfigError, match="has no clean client"):
        default_mixes(noisy)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--config", "tiny"], "error: bench aggregators: tiny has federation.max_clients 3"),
        (["--config", "nonesuch"], "error: no config file 'nonesuch'"),
    ],
)
def test_a_bad_config_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str, tmp_path: Path
) -> None:
    assert main(["bench", "aggregators", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rounds", "0"], "argument --rounds: 0 must be >= 1"),
        (["--rounds", "ten"], "argument --rounds: 'ten' is not an integer"),
        (["--seeds", "-1"], "argument --seeds:"),
        (["--seeds"], "argument --seeds: expected at least one argument"),
        (["--sweep"], "unrecognized arguments: --sweep"),
    ],
)
def test_bad_options_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "aggregators", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "aggregators", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--seeds", "--rounds", "--config", "--no-sweep", "--out"):
        assert option in out
