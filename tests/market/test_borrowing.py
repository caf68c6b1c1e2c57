"""Borrowing to buy labels, end to end on Anvil: ``fl-node simulate --measure-borrowing`` on 3
clients and 3 rounds without investors. The timelock lists every client's market, a lender fills
the vault, each client borrows against its own tokens and buys labels at once; the clean client
repays, the free-rider walks away (sells its whole free treasury) and the liquidator takes its
collateral. Every loan is on-chain, the vault's cash equals its flows, base tokens are conserved.
Bad options end in one clear error line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fl_node.cli import main
from tests.market.cli_errors import argparse_error, config_error, simulate_help

PRICE = 2.0
GOOD, NOISY, BAD = "ann", "ben", "cat"


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("borrowing")
    argv = [
        "simulate",
        "--measure-borrowing",
        "--config",
        "tiny-market",
        "--rounds",
        "3",
        "--no-investors",
        "--label-price",
        str(PRICE),
        "--start-labelled",
        "0.9",
        "--sell-share",
        "0.2",
        "--walk-away",
        BAD,
        "--out",
        str(root / "runs"),
        "--results",
        str(root / "results"),
        "--timeout",
        "300",
    ]
    assert main(argv) == 0
    return root, json.loads((root / "results" / "borrowing.json").read_text())


def _report(result: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(result["run_dir"]) / "report.json").read_text())


def _events(report: dict[str, Any], name: str, borrower: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in report["borrowing"]["events"]
        if e["name"] == name and (borrower is None or e["borrower"].lower() == borrower.lower())
    ]


def test_the_measurement_is_written_with_its_table(measured) -> None:  # type: ignore[no-untyped-def]
    root, result = measured
    markdown = (root / "results" / "borrowing.md").read_text()
    for name in (GOOD, NOISY, BAD):
        assert f"| {name} |" in markdown
    assert "liquidated" in markdown and "base tokens conserved" in markdown
    assert result["listed_after_round"] == 1
    assert len(result["test_accuracy_per_round"]) == 3
    assert result["final_test_accuracy"] is not None
    assert result["settings"]["walk_away"] == [BAD]


def test_loans_are_taken_on_chain_and_buy_labels(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    report = _report(result)
    for name, client in result["clients"].items():
        borrowed = _events(report, "Borrowed", client["address"])
        assert len(borrowed) == 1, name  # one loan, after round 1
        assert int(borrowed[0]["amount"]) > 0 and client["borrowed_round"] == 1
        assert client["collateral_posted"] > 0 and client["borrowed"] > 0
        assert client["labels_from_loan"] > 0
        assert client["labels_bought"] >= client["labels_from_loan"]
        # Borrowed within the margin below the LTV at the TWAP: 90 % of 50 % of the value.
        value = client["collateral_posted"] * client["price_at_loan"]
        assert client["borrowed"] <= 0.45 * value * 1.000001
        assert client["events_match"], name


def test_the_vault_s_accounts_match_the_contract(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    report = _report(result)
    units = result["vault"]["units"]
    # Cash from the chain's own events: deposits + repayments (borrowers' and liquidators') - loans.
    borrowed = sum(int(e["amount"]) for e in _events(report, "Borrowed"))
    repaid = sum(int(e["amount"]) for e in _events(report, "Repaid"))
    liquidated = sum(int(e["repaid"]) for e in _events(report, "Liquidated"))
    assert int(units["cash"]) == int(units["deposited"]) + repaid + liquidated - borrowed
    assert int(units["total_assets"]) == int(units["cash"]) + int(units["total_debt"])
    assert int(units["base_held"]) == int(units["cash"]) + int(units["dividends_held"])
    balances = report["conservation"]["balances"]
    assert int(balances["TokenLending"]) == int(units["base_held"])
    # What is still owed is every position's debt; what was written off, the bad debt.
    assert result["outstanding_total"] == pytest.approx(result["vault"]["total_debt"], abs=1e-9)
    written_off = sum(int(e["amount"]) for e in _events(report, "BadDebtWrittenOff"))
    assert written_off == int(units["bad_debt"])
    assert result["vault_ok"] and result["events_match"]


def test_base_tokens_are_conserved_with_the_lending_accounts_tracked(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    report = _report(result)
    conservation = report["conservation"]
    assert conservation["ok"], conservation
    assert not conservation["unknown_holders"]
    for holder in ("lender", "liquidator", "TokenLending", "label vendor"):
        assert holder in conservation["balances"]
    assert result["conservation_ok"] and result["vendor_matches_spending"]


def test_the_clean_client_repays_its_loan(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    report = _report(result)
    good = result["clients"][GOOD]
    assert not good["liquidated"] and good["collateral_seized"] == 0
    assert good["outstanding"] == 0
    paid = sum(int(e["amount"]) for e in _events(report, "Repaid", good["address"]))
    assert paid / 10**18 == pytest.approx(good["borrowed"] + good["interest"])
    assert all(
        e["payer"].lower() == good["address"].lower()
        for e in _events(report, "Repaid", good["address"])
    )
    assert good["interest"] >= 0


def test_the_client_that_walks_away_is_liquidated(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    report = _report(result)
    bad = result["clients"][BAD]
    assert bad["walked_away"] and bad["liquidated"]
    liquidations = _events(report, "Liquidated", bad["address"])
    assert liquidations and all(
        e["liquidator"].lower() == report["borrowing"]["liquidator"].lower() for e in liquidations
    )
    seized = sum(int(e["seized"]) for e in liquidations)
    assert seized / 10**18 == pytest.approx(bad["collateral_seized"]) and seized > 0
    assert bad["final_price"] < bad["price_at_loan"] / 2  # its own dump crashed its price
    assert BAD in result["liquidated_clients"] and GOOD not in result["liquidated_clients"]


# -- bad options: one clear error each -----------------------------------------------------------
def test_help_answers(capsys: pytest.CaptureFixture[str]) -> None:
    out = simulate_help(capsys)
    for option in (
        "--measure-borrowing",
        "--borrow",
        "--collateral-share",
        "--borrow-share",
        "--walk-away",
    ):
        assert option in out
    assert "compute" in out and "liquidat" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--borrow-share", "0"], "must be above 0"),
        (["--borrow-share", "1.5"], "within [0, 1]"),
        (["--collateral-share", "half"], "is not a number"),
        (["--collateral-share", "0"], "must be above 0"),
        (["--walk-away", " , "], "give client names"),
    ],
)
def test_bad_values_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert message in argparse_error(capsys, ["--measure-borrowing", *argv])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--measure-borrowing", "--measure"], "pick one"),
        (["--measure-borrowing", "--measure-investment"], "pick one"),
        (["--measure-borrowing", "--borrow"], "implies them"),
        (["--measure-borrowing", "--buy-labels"], "implies them"),
        (["--measure-borrowing", "--processes"], "in-process runtime only"),
        (["--borrow", "--processes"], "in-process runtime only"),
        (["--measure-investment", "--borrow"], "runs without loans"),
        (["--borrow-share", "0.5"], "only apply with --measure-borrowing or --borrow"),
        (["--walk-away", "cat"], "only apply with --measure-borrowing or --borrow"),
        (["--measure-borrowing", "--config", "nope"], "no config file 'nope'"),
        (["--measure-borrowing", "--config", "tiny-market", "--walk-away", "zed"], "not a client"),
    ],
)
def test_conflicting_options_are_one_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert message in config_error(capsys, argv)


def test_the_same_federation_without_loans_is_found_and_shown_beside() -> None:
    from fl_node.simulation.borrowing import borrowing_markdown, matching_baseline
    from fl_node.simulation.investment import InvestmentSettings
    from fl_node.simulation.investors import DEFAULT_POPULATION

    settings = InvestmentSettings()
    runs = [
        {"label": label, "test_accuracy_per_round": [0.1, 0.2], "clients": {}}
        for label in ("with-investors", "no-investors")
    ]
    earlier = {"config": "invest8", "rounds": 2, "settings": vars(settings).copy(), "runs": runs}
    found = matching_baseline(earlier, "invest8", 2, settings, DEFAULT_POPULATION)
    assert found is not None and found["label"] == "with-investors"
    assert matching_baseline(earlier, "invest8", 2, settings, ())["label"] == "no-investors"  # type: ignore[index]
    assert matching_baseline(earlier, "invest8", 3, settings, ()) is None
    assert matching_baseline(earlier, "tiny-market", 2, settings, ()) is None
    assert matching_baseline(earlier, "invest8", 2, InvestmentSettings(label_price=3), ()) is None
    assert matching_baseline(earlier, "invest8", 2, settings, ("noise",)) is None
    result: dict[str, Any] = {
        "rounds": 2,
        "config": "invest8",
        "investors": [],
        "investment_settings": vars(settings).copy(),
        "settings": {
            "ltv_bps": 5000,
            "threshold_bps": 7500,
            "borrow_cap": 1000.0,
            "twap_window": 300,
            "collateral_share_bps": 5000,
            "borrow_share_bps": 9000,
        },
        "listed_after_round": 1,
        "clients": {},
        "final_test_accuracy": 0.4,
        "test_accuracy_per_round": [0.3, 0.4],
        "borrowed_total": 0.0,
        "repaid_total": 0.0,
        "outstanding_total": 0.0,
        "liquidated_clients": [],
        "liquidator_tokens_value": 0.0,
        "vault": {
            "deposited": 1.0,
            "cash": 1.0,
            "total_debt": 0.0,
            "total_assets": 1.0,
            "bad_debt": 0.0,
            "lender_return": 0.0,
        },
        "vault_ok": True,
        "events_match": True,
        "conservation_ok": True,
        "wall_seconds": 1.0,
        "baseline": {"label": "no-investors", "test_accuracy_per_round": [0.1, 0.2]},
    }
    markdown = borrowing_markdown(result)
    assert "| 1 | 0.300 | 0.100 |" in markdown and "| 2 | 0.400 | 0.200 |" in markdown
    assert "mean over rounds 0.350 against 0.150" in markdown
