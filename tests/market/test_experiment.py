"""The experiment's pure parts: settings, reward shares per method, conservation verdicts, the
Markdown table, and the command line's refusals of bad input."""

from __future__ import annotations

import pytest

from fl_node.cli import main
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.market.accounting import Conservation, Holdings
from fl_node.simulation.experiment import (
    SimulationSettings,
    method_shares,
    summarize_run,
    to_markdown,
)

WAD = 10**18
A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


def test_settings_override_the_config_and_refuse_bad_values() -> None:
    config = SimulationSettings(rounds=4, mode="dividend", seed=3).apply(load_config("quality8"))
    assert config.federation.rounds == 4
    assert config.federation.mode == "dividend"
    assert config.seed == 3
    assert len(config.clients) == 8
    with pytest.raises(ConfigError, match="mode"):
        SimulationSettings(mode="airdrop").apply(load_config("quality8"))
    with pytest.raises(ConfigError, match="contribution method"):
        SimulationSettings(methods=("loo", "vibes")).apply(load_config("quality8"))
    with pytest.raises(ConfigError, match="slippage"):
        SimulationSettings(tolerance_bps=10_000).apply(load_config("quality8"))


def test_quality8_has_the_issue_s_clients_with_markets() -> None:
    config = load_config("quality8")
    assert [c.label_noise for c in config.clients[:6]] == [0, 0, 0, 0.2, 0.4, 0.6]
    assert config.clients[6].behavior == "free_rider"
    assert config.clients[7].behavior.startswith("poison")
    assert all(c.offer_tokens > 0 and c.offer_base > 0 for c in config.clients)
    assert config.federation.rounds == 20 and config.federation.mode == "buyback"


def _recomputed() -> dict:  # type: ignore[type-arg]
    # Two rounds; "loo" gives A everything in round 1 and splits round 2; "data_size" is equal.
    return {
        "methods": ["loo", "data_size"],
        "rounds": [
            {"round": 1, "rewards": {"loo": {A: str(90 * WAD), B: "0", C: "0"},
                                     "data_size": {A: str(30 * WAD), B: str(30 * WAD),
                                                   C: str(30 * WAD)}}},
            {"round": 2, "rewards": {"loo": {A: str(60 * WAD), B: str(30 * WAD), C: "0"},
                                     "data_size": {A: str(30 * WAD), B: str(30 * WAD),
                                                   C: str(30 * WAD)}}},
        ],
    }  # fmt: skip


def test_method_shares_against_equal_payouts() -> None:
    names = {A: "ann", B: "ben", C: "cat"}
    quality = {"ann": 1.0, "ben": 0.5, "cat": -1.0}
    shares = method_shares(_recomputed(), names, quality, decimals=18)
    loo = shares["loo"]
    assert loo["totals"] == {"ann": 150.0, "ben": 30.0, "cat": 0.0}
    assert loo["shares"]["ann"] == pytest.approx(150 / 180)
    assert loo["vs_equal"]["ann"] == pytest.approx(3 * 150 / 180)
    assert loo["spearman_quality"] == pytest.approx(1.0)
    assert loo["gini"] > 0.5
    flat = shares["data_size"]
    assert flat["gini"] == pytest.approx(0.0)
    assert all(s == pytest.approx(1 / 3) for s in flat["shares"].values())
    assert shares["equal"] == {"share": pytest.approx(1 / 3), "gini": 0.0}


def _conservation(**changes: object) -> Conservation:
    fields: dict = dict(  # type: ignore[type-arg]
        minted=1000, expected_minted=1000, burned=10, vault_burned=10, held_by_known=990,
        total_supply=990, unknown_holders=(), escrow_balance=50, escrow_held=50, balances={},
        decimals=18,
    )  # fmt: skip
    fields.update(changes)
    return Conservation(**fields)


@pytest.mark.parametrize(
    "change",
    [
        {"held_by_known": 989},  # a wei went somewhere unknown
        {"expected_minted": 1001},  # something minted that the set-up did not
        {"vault_burned": 9},  # a burn the vault did not count
        {"unknown_holders": ("0x" + "d" * 40,)},
        {"escrow_held": 49},  # the escrow's books disagree with its balance
        {"total_supply": 991},
    ],
)
def test_conservation_fails_on_any_leak(change: dict) -> None:  # type: ignore[type-arg]
    assert _conservation().ok
    broken = _conservation(**change)
    assert not broken.ok
    assert broken.to_json()["ok"] is False
    assert isinstance(broken.to_json()["minted"], str)  # smallest units as strings in JSON
    assert broken.to_json()["decimals"] == 18


def test_holdings_wealth_adds_every_part() -> None:
    h = Holdings(base=1.0, stake=2.0, tokens=3.0, liquidity=4.0, dividends=0.5)
    assert h.wealth == pytest.approx(10.5)
    assert h.to_json()["wealth"] == pytest.approx(10.5)


def test_markdown_table_of_a_measurement() -> None:
    report = {
        "market": {
            "investors": {"value-1": {"return": 0.1}, "noise-1": {"return": -0.3}},
            "spearman_price_quality": 0.87,
            "final_prices": {"ann": 0.01},
            "quality": {"ann": 1.0},
        },
        "final_metrics": {"test_accuracy": 0.9},
        "contribution_methods": {
            "loo": {"gini": 0.4, "spearman_quality": 0.9, "shares": {"ann": 0.7, "ben": 0.3}},
            "equal": {"share": 0.5, "gini": 0.0},
        },
        "recomputation": {"matches_posted": True},
        "conservation": {"ok": True},
        "gas": {"total": 123},
        "run": {"wall_seconds": 61.0},
    }
    run = summarize_run("buyback", "buyback", True, __import__("pathlib").Path("x"), report)
    assert run["investor_mean_return"] == pytest.approx(-0.1)
    text = to_markdown({"rounds": 20, "config": "quality8", "runs": [run]})
    assert "| buyback | 0.87 | 0.900 | -10.0% | yes | 61 s |" in text
    assert "| loo | 0.400 | 0.90 | ann 70.0% | ben 30.0% |" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--investors", "whale=1"], "unknown investor kind"),
        (["--investors", "value=x"], "not an integer"),
        (["--slippage-bps", "10000"], "basis points"),
        (["--methods", "loo,vibes"], "unknown contribution method"),
        (["--investor-budget", "0"], "must be > 0"),
        (["--mode", "airdrop"], "invalid choice"),
        (["--rounds", "0"], ">= 1"),
    ],
)
def test_simulate_refuses_bad_flags(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_measure_refuses_unknown_modes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--measure", "--modes", "buyback,airdrop"]) == 2
    assert "--modes" in capsys.readouterr().err


def test_simulate_refuses_a_missing_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--config", "no-such-config"]) == 2
    assert "no config file" in capsys.readouterr().err
