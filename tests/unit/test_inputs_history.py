"""Reputations need every earlier round's results table: an aggregator that computes round after
round reads each ended round once (its history), and gets the same tables as a fresh reader."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from fl_node.federation import inputs
from fl_node.federation.inputs import History, previous_results
from fl_node.federation.protocol import Phase


@dataclass
class FakeApi:
    phases: dict[int, Phase]
    reads: int = 0

    def params(self) -> Any:
        return SimpleNamespace(aggregator="0xagg")

    def round(self, number: int) -> Any:
        self.reads += 1
        return SimpleNamespace(phase=self.phases[number], results_root=f"root-{number}")


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    roots: list[str] = []

    def fetch(_store: Any, root: str, owner: str) -> str:
        assert owner == "0xagg"
        roots.append(root)
        return f"table-{root}"

    monkeypatch.setattr(inputs, "fetch_results", fetch)
    return roots


def test_each_ended_round_is_read_once(fetched: list[str]) -> None:
    api = FakeApi({1: Phase.FINALIZED, 2: Phase.ABORTED, 3: Phase.FINALIZED, 4: Phase.POSTED})
    history: History = {}
    first = previous_results(api, None, 4, history)  # type: ignore[arg-type]
    assert first == ["table-root-1", "table-root-3"]
    assert api.reads == 3 and fetched == ["root-1", "root-3"]
    api.phases[4] = Phase.FINALIZED
    second = previous_results(api, None, 5, history)  # type: ignore[arg-type]
    assert second == ["table-root-1", "table-root-3", "table-root-4"]
    assert api.reads == 4 and fetched == ["root-1", "root-3", "root-4"]  # only round 4 was new
    assert previous_results(api, None, 3, history) == ["table-root-1"]  # type: ignore[arg-type]


def test_a_round_not_ended_yet_is_read_again_later(fetched: list[str]) -> None:
    api = FakeApi({1: Phase.CHALLENGED})
    history: History = {}
    assert previous_results(api, None, 2, history) == []  # type: ignore[arg-type]
    api.phases[1] = Phase.FINALIZED  # the arbiter let it stand
    assert previous_results(api, None, 2, history) == ["table-root-1"]  # type: ignore[arg-type]


def test_without_history_every_round_is_read(fetched: list[str]) -> None:
    api = FakeApi({1: Phase.FINALIZED, 2: Phase.FINALIZED})
    assert previous_results(api, None, 3) == previous_results(api, None, 3)  # type: ignore[arg-type]
    assert api.reads == 4
