"""A node's step reads the task, the next round, its current round, the rounds it still has to
settle, its credit and its free stake in one round trip to the chain (every node pays it on every
look, so it sets the pace of a round)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from fl_node.configs import load_config
from fl_node.federation.node import READ_AHEAD, DueClaim, NodeDaemon
from fl_node.federation.protocol import FederationApi
from fl_node.simulation.localfed import LocalFederation
from tests.federation.stepping import step_until_finalized


@pytest.fixture(scope="module")
def finalized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    """The tiny task stepped in this process until round 1 is finalized (nobody claimed yet)."""
    fed = LocalFederation(load_config("tiny"), tmp_path_factory.mktemp("reads") / "run")
    try:
        fed.setup(say=lambda _m: None)
        daemons = fed.daemons()
        nodes: list[NodeDaemon] = daemons[:-1]  # type: ignore[assignment]
        api = FederationApi(fed.client, fed.task_id)
        step_until_finalized(api, daemons)
        yield nodes, api, daemons[-1]
    finally:
        fed.stop()


def _no_single_reads(api: FederationApi, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Single reads of the task, a round, a commitment refused; the clock's reads counted."""

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a step read the chain one view at a time")

    for name in ("state", "round", "commitment", "round_of", "chain_time", "credit", "free_stake"):
        monkeypatch.setattr(api, name, refused)
    clock: list[str] = []
    exact_now = api.exact_now

    def counted() -> float:
        clock.append("exact_now")
        return exact_now()

    monkeypatch.setattr(api, "exact_now", counted)
    return clock


def _batches(api: FederationApi, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The rounds of each batched read of the task through ``api``, from now on."""
    batches: list[list[int]] = []
    view = api.client_view

    def counted(client: str, rounds: list[int]) -> Any:
        batches.append(list(rounds))
        return view(client, rounds)

    monkeypatch.setattr(api, "client_view", counted)
    return batches


def test_a_step_that_claims_reads_everything_it_decides_on_in_one_batch(
    finalized: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes, api, _aggregator = finalized
    node = nodes[0]
    assert node._current == 1 and node._rounds_to_read() == [2, 1]
    batches = _batches(node.api, monkeypatch)
    clock = _no_single_reads(node.api, monkeypatch)
    assert node.step() is False  # the task goes on
    assert batches == [[2, 1]]
    assert clock == []  # the claim's deadline counts from the batch's own clock
    assert 1 in node._checkpoint.get("claimed")
    monkeypatch.undo()
    commitment = api.commitment(1, node.address)
    assert commitment.settled and (commitment.claimed or commitment.stake > 0)


def test_the_rounds_read_ahead_are_the_unsettled_ones_and_bounded(
    finalized: tuple[Any, ...],
) -> None:
    nodes, _api, _aggregator = finalized
    node = nodes[1]
    claimed, current, params = node._checkpoint.get("claimed", []), node._current, node.params
    try:
        node.params = replace(params, num_rounds=100)
        node._checkpoint.set("claimed", [1])
        node._current = 3
        assert node._rounds_to_read() == [4, 3, 2]  # the next round, which may have opened
        node._current = 100
        assert node._rounds_to_read()[0] == 100  # no round after the last one
        node._current = 40
        read = node._rounds_to_read()
        assert read[:2] == [41, 40] and len(read) == 2 + READ_AHEAD
        assert read[2:] == list(range(39, 39 - READ_AHEAD, -1))  # the latest ones first
        node._current = 0
        assert node._rounds_to_read() == [1]  # before the first step: the task's first round
        node.expect(3)  # a node made for one message, told the round the message is about
        assert node._rounds_to_read() == [4, 3, 2]
        node.expect(1)  # an older round told late does not move it back
        assert node._current == 3
    finally:
        node._checkpoint.set("claimed", claimed)
        node._current, node.params = current, params


def test_a_step_that_commits_reads_once_and_its_claim_goes_with_the_commit(
    finalized: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes, api, aggregator = finalized
    if api.state().current_round == 1:
        aggregator.step()  # opens round 2 on round 1's model (another test may have done it)
    assert api.state().current_round == 2
    waiting = [n for n in nodes if not api.commitment(2, n.address).exists]
    due = {
        n.address: n._due_claim(1, {1: api.round_of(1, n.address)[:2]}, api.exact_now())
        for n in waiting
    }
    node = next((n for n in waiting if due[n.address] is not None), waiting[0])
    node._current = 1  # as after its last step, in round 1
    batches = _batches(node.api, monkeypatch)
    clock = _no_single_reads(node.api, monkeypatch)
    sent: list[str] = []
    send, multicall = node.api.send, node.api.multicall
    monkeypatch.setattr(node.api, "send", lambda *a, **k: sent.append("send") or send(*a, **k))
    monkeypatch.setattr(
        node.api, "multicall", lambda *a, **k: sent.append("multicall") or multicall(*a, **k)
    )
    node.step()
    # the round that opened since the last step was read ahead: one batch, no single read; round
    # 1's claim (or settlement) went in the commit's transaction when one was due (another test
    # may have claimed it already), and nothing else was sent
    assert batches == [[2, 1]]
    assert clock == []
    assert sent == (["send"] if due[node.address] is None else ["multicall"])
    assert 1 in node._checkpoint.get("claimed")
    # the node knows its commit is on the chain from its own mined transaction, not a read
    assert node.view is not None and not node.view.rounds[2][1].exists
    assert node.committed(2) and not node.revealed(2)
    monkeypatch.undo()
    assert api.commitment(2, node.address).exists
    settled = api.commitment(1, node.address)
    assert settled.settled and (settled.claimed or settled.stake > 0)


def test_a_claim_that_fails_in_the_commits_transaction_leaves_the_commit_alone(
    finalized: tuple[Any, ...],
) -> None:
    nodes, api, aggregator = finalized
    if api.state().current_round == 1:
        aggregator.step()  # opens round 2 (the test above may have done it)
    node = nodes[1]
    assert not api.commitment(2, node.address).exists
    # a claim of round 1 that cannot go through (a reward its results do not prove)
    bogus = DueClaim(1, api.claim_call(1, 0, 1, [b"\x01" * 32]), 1)
    info = api.round(2)
    node._commit(2, info, bogus)
    assert api.commitment(2, node.address).exists  # the commit went on its own
    assert not api.commitment(1, node.address).claimed
    node.step()  # and the claim takes its own path, from the results
    settled = api.commitment(1, node.address)
    assert settled.settled and (settled.claimed or settled.stake > 0)


def test_a_results_table_is_fetched_and_checked_once_per_root(
    finalized: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim in a commit's transaction and the settlement both need this client's row and
    proof: a root names one table, so it is fetched and checked against the root once."""
    nodes, api, _aggregator = finalized
    node = nodes[2]
    node._results.clear()
    fetched: list[str] = []
    get_named = node.store.get_named

    def counted(name: str, **kwargs: Any) -> bytes:
        fetched.append(name)
        return get_named(name, **kwargs)

    monkeypatch.setattr(node.store, "get_named", counted)
    info = api.round(1)
    first = node._my_result(info)
    assert node._my_result(info) == first and len(fetched) == 1
    assert first[0].client.lower() == node.address.lower()
    node._results.clear()
    assert node._my_result(info) == first and len(fetched) == 2
