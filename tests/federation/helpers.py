"""Playing the aggregator by hand in end-to-end tests (the clients run as real processes)."""

from __future__ import annotations

import time

from fl_node.federation.protocol import FederationApi, Phase, Post
from fl_node.federation.results import RoundResults
from fl_node.simulation.localfed import LocalFederation


def open_first_round(fed: LocalFederation, api: FederationApi, timeout: float = 180.0) -> int:
    """Wait until every client joined, bond as the aggregator, open round 1; returns the block."""
    params = api.params()
    deadline = time.monotonic() + timeout
    while api.state().participants < params.min_clients:
        assert fed.processes.check() is False, "a client process died"
        assert time.monotonic() < deadline, "the clients did not join in time"
        time.sleep(0.5)
    api.bond_aggregator(fed.aggregator, params.aggregator_bond)
    return api.open_round(fed.aggregator).block_number


def wait_for_reveals(
    fed: LocalFederation, api: FederationApi, number: int, count: int, timeout: float = 180.0
) -> None:
    """Until ``count`` clients committed and revealed in round ``number``."""
    deadline = time.monotonic() + timeout
    while True:
        info = api.round(number)
        if info.phase == Phase.REVEAL and info.reveals >= count:
            return
        assert fed.processes.check() is False, "a client process died"
        assert time.monotonic() < deadline, f"only {info.reveals} reveal(s) of {count} in time"
        time.sleep(0.5)


def post_results(
    fed: LocalFederation,
    api: FederationApi,
    number: int,
    model_hash: bytes,
    root: bytes,
    table: RoundResults,
) -> None:
    """Post ``table`` (stored under ``root``) for round ``number`` as the aggregator."""
    info = api.round(number)
    post = Post(
        model_hash=model_hash,
        results_root=root,
        commits=info.commits,
        reveals=info.reveals,
        total_reward=table.total_reward,
        total_payout=table.total_payout,
    )
    api.post(fed.aggregator, number, post, early=info.reveals == info.commits)
