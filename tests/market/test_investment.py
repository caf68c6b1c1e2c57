"""Investment that buys quality, end to end on Anvil: ``fl-node simulate --measure-investment`` on
3 clients and 3 rounds, with and without investors. Clients sell part of their treasury on their
own pools and pay a vendor for labels on-chain; every base token stays accounted for. Bad options
of the command end in one clear error line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fl_node.cli import main
from tests.market.cli_errors import argparse_error, config_error, simulate_help

PRICE = 2.0


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("investment")
    argv = [
        "simulate",
        "--measure-investment",
        "--config",
        "tiny-market",
        "--rounds",
        "3",
        "--label-price",
        str(PRICE),
        "--start-labelled",
        "0.1",
        "--sell-share",
        "0.2",
        "--out",
        str(root / "runs"),
        "--results",
        str(root / "results"),
        "--timeout",
        "300",
    ]
    assert main(argv) == 0
    return root, json.loads((root / "results" / "investment.json").read_text())


def _report(run: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(run["run_dir"]) / "report.json").read_text())


def test_both_runs_are_written_with_their_table(measured) -> None:  # type: ignore[no-untyped-def]
    root, result = measured
    assert [r["label"] for r in result["runs"]] == ["with-investors", "no-investors"]
    assert result["settings"] == {
        "label_price": PRICE,
        "start_fraction": 0.1,
        "sell_share_bps": 2_000,
    }
    markdown = (root / "results" / "investment.md").read_text()
    assert "| with-investors |" in markdown and "| no-investors |" in markdown
    page = (root / "results" / "investment.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "no-investors" in page
    for run in result["runs"]:
        assert len(run["test_accuracy_per_round"]) == 3
        assert run["final_test_accuracy"] is not None
        for client in run["clients"].values():
            assert len(client["labels_per_round"]) == 3
            assert len(client["price_per_round"]) == 3


def test_purchases_are_paid_on_chain_to_the_vendor_and_base_is_conserved(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    for run in result["runs"]:
        report = _report(run)
        inv = report["investment"]
        assert report["conservation"]["ok"], report["conservation"]
        # The vendor's balance on-chain is every ledger's payments, to the base unit.
        paid = 0
        for ledger_file in sorted((Path(run["run_dir"]) / "resources").glob("node-*.json")):
            ledger = json.loads(ledger_file.read_text())
            paid += sum(int(p["paid"]) for p in ledger["purchases"])
            bought = sum(p["labels"] for p in ledger["purchases"])
            assert ledger["labelled"] == ledger["start"] + bought <= ledger["available"]
            assert all(p["tx"].startswith("0x") for p in ledger["purchases"])
        assert int(report["conservation"]["balances"]["label vendor"]) == paid > 0
        assert inv["vendor_matches_spending"] and run["vendor_matches_spending"]
        # Labels cost exactly the stated price.
        for client in inv["clients"].values():
            assert client["spent"] == pytest.approx(client["labels_bought"] * PRICE)


def test_more_capital_buys_more_labels(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    for run in result["runs"]:
        clients = list(run["clients"].values())
        assert any(c["labels_bought"] > 0 for c in clients)
        for a in clients:
            for b in clients:
                if a["spent"] > b["spent"]:
                    assert a["labels_bought"] > b["labels_bought"]
        richest = max(clients, key=lambda c: c["raised"])
        poorest = min(clients, key=lambda c: c["raised"])
        if richest["raised"] > poorest["raised"] + 2 * PRICE:
            assert richest["final_labels"] - richest["start_labels"] > (
                poorest["final_labels"] - poorest["start_labels"]
            )
    with_inv, without = result["runs"]
    # Investors deepen the pools: the clients raise more with them than without.
    assert with_inv["raised_total"] > without["raised_total"]


def test_the_clients_sold_only_their_own_tokens_with_slippage_bounds(measured) -> None:  # type: ignore[no-untyped-def]
    _root, result = measured
    for run in result["runs"]:
        report = _report(run)
        addresses = {p["name"]: p["address"] for p in report["participants"]}
        for fill in report["investment"]["fills"]:
            assert fill["side"] == "sell" and fill["note"] == "funding"
            assert fill["investor"] == fill["client"]  # a client sells its own token
            assert fill["client"] in addresses.values()
            if fill["status"] == "filled":
                assert int(fill["amount_out"]) >= int(fill["min_out"]) > 0


# -- bad options: one clear error each -----------------------------------------------------------
def test_help_answers(capsys: pytest.CaptureFixture[str]) -> None:
    out = simulate_help(capsys)
    for option in ("--measure-investment", "--label-price", "--start-labelled", "--sell-share"):
        assert option in out
    assert "invest8" in out and "vendor" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--label-price", "0"], "must be > 0"),
        (["--label-price", "-3"], "must be > 0"),
        (["--label-price", "four"], "is not a number"),
        (["--start-labelled", "0"], "must be above 0"),
        (["--start-labelled", "1.5"], "within [0, 1]"),
        (["--sell-share", "2"], "within [0, 1]"),
        (["--sell-share", "nan"], "not a finite number"),
        (["--rounds", "0"], "--rounds"),
    ],
)
def test_bad_values_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    err = argparse_error(capsys, ["--measure-investment", *argv])
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--measure-investment", "--measure"], "pick one"),
        (["--measure-investment", "--buy-labels"], "implies it"),
        (["--measure-investment", "--processes"], "in-process runtime only"),
        (["--buy-labels", "--processes"], "in-process runtime only"),
        (["--measure-investment", "--no-investors"], "with and without investors"),
        (["--label-price", "3"], "only apply with --measure-investment"),
        (["--sell-share", "0.5", "--start-labelled", "0.2"], "--start-labelled, --sell-share"),
        (["--measure-investment", "--config", "nope"], "no config file 'nope'"),
    ],
)
def test_conflicting_options_are_one_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    err = config_error(capsys, argv)
    assert message in err
