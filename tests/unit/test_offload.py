"""Training simulated clients in worker processes: the same fits as in the runtime's own process,
each client kept in one worker, and every failure raised where the step asked for the fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fl_node.app.client import ClientApp, Context
from fl_node.configs import load_config
from fl_node.errors import ConfigError, FlNodeError
from fl_node.simulation.localfed import LocalFederation, default_train_workers
from fl_node.simulation.offload import Ticket, TrainingPool, offloaded_app

COUNTING = "tests.unit.offload_app:counting"
FAILING = "tests.unit.offload_app:failing"


def context(slot: int) -> Context:
    return Context(f"0x{slot + 1:040x}", {"partition-id": slot})


class Direct:
    """A waiter outside any lockstep pass: it just waits."""

    def wait_for(self, work: Ticket) -> Any:
        return work.result()


def test_a_worker_fits_as_the_app_does_here_and_keeps_each_client() -> None:
    start = [np.arange(3, dtype=np.float32)]
    here = ClientApp.load(COUNTING).client(context(2)).fit(start, {})
    with TrainingPool(1, warm=COUNTING) as pool:
        first = pool.fit(2, COUNTING, context(2), start, {}).result()
        second = pool.fit(2, COUNTING, context(2), start, {}).result()
    np.testing.assert_array_equal(first[0][0], here[0][0])
    assert first[1] == here[1] == 5
    assert (first[2]["fits"], second[2]["fits"]) == (1, 2)  # built once, then kept
    assert first[2]["pid"] != here[2]["pid"]  # in another process


def test_the_pool_keeps_each_fits_seconds_in_the_worker_by_round() -> None:
    start = [np.zeros(3, dtype=np.float32)]
    with TrainingPool(2) as pool:
        tickets = [
            pool.fit(slot, COUNTING, context(slot), start, {"server_round": number})
            for number in (1, 2)
            for slot in (0, 1, 2)
        ]
        for ticket in tickets:
            ticket.result()
        seconds = pool.fit_seconds()
    assert sorted(seconds) == [1, 2]
    assert all(len(s) == 3 and all(0 < x < 5 for x in s) for s in seconds.values())


def test_each_slot_stays_on_its_worker() -> None:
    start = [np.zeros(3, dtype=np.float32)]
    with TrainingPool(2) as pool:
        tickets = [pool.fit(s, COUNTING, context(s), start, {}) for s in (0, 1, 2, 3, 0)]
        pids = [t.result()[2]["pid"] for t in tickets]
    assert pids[0] == pids[2] == pids[4] != pids[1] == pids[3]


def test_many_results_waiting_at_once_do_not_block_the_worker() -> None:
    start = [np.zeros(200_000, dtype=np.float32)]  # 800 kB a job and a result
    with TrainingPool(1) as pool:
        tickets = [pool.fit(0, COUNTING, context(0), start, {}) for _ in range(6)]
        assert [t.result()[2]["fits"] for t in reversed(tickets)] == [6, 5, 4, 3, 2, 1]


def test_an_offloaded_app_trains_in_the_worker_and_answers_the_rest_here() -> None:
    with TrainingPool(1) as pool:
        app = offloaded_app(pool, Direct(), 1, COUNTING)
        client = app.client(context(1))
        assert [p.tolist() for p in client.get_parameters({})] == [[0.0, 0.0, 0.0]]
        params, count, metrics = client.fit([np.ones(3, dtype=np.float32)], {})
    assert params[0].tolist() == [2.0, 2.0, 2.0] and count == 5 and metrics["fits"] == 1
    assert app.name == COUNTING


def test_the_apps_error_is_raised_where_the_fit_was_asked() -> None:
    start = [np.zeros(3, dtype=np.float32)]
    with TrainingPool(1) as pool:
        with pytest.raises(ValueError, match="the app's own error"):
            pool.fit(0, FAILING, context(0), start, {"fail": "value"}).result()
        with pytest.raises(FlNodeError, match="Unpicklable: cannot travel"):
            pool.fit(0, FAILING, context(0), start, {"fail": "unpicklable"}).result()
        # the worker goes on
        assert pool.fit(0, FAILING, context(0), start, {}).result()[2]["fits"] == 1


def test_a_worker_that_dies_gives_a_clear_error_to_every_fit_after() -> None:
    start = [np.zeros(3, dtype=np.float32)]
    with TrainingPool(1) as pool:
        pending = pool.fit(0, FAILING, context(0), start, {"fail": "exit"})
        with pytest.raises(FlNodeError, match=r"training worker process ended \(exit code 3\)"):
            pending.result()
        with pytest.raises(FlNodeError, match="training worker process ended"):
            pool.fit(0, FAILING, context(0), start, {}).result()


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ConfigError, match="at least 1, got 0"):
        TrainingPool(0)


def test_one_worker_beside_the_runtime_on_two_cores_or_more_none_on_one() -> None:
    assert [default_train_workers(c) for c in (1, 2, 4, 64)] == [0, 1, 1, 1]


def test_a_negative_worker_count_is_refused_before_anything_runs(tmp_path: Path) -> None:
    fed = LocalFederation(load_config("tiny"), tmp_path / "run")
    with pytest.raises(FlNodeError, match="training workers must be 0 or more, got -1"):
        fed.run_in_process(train_workers=-1)
    with pytest.raises(FlNodeError, match="training workers must be 0 or more, got -2"):
        fed.start_training(-2)


def test_workers_started_ahead_are_kept_until_the_federation_stops(tmp_path: Path) -> None:
    fed = LocalFederation(load_config("tiny"), tmp_path / "run")
    assert fed.start_training(1) == 1
    pool = fed._pool
    assert pool is not None and pool.fit(0, COUNTING, context(0), [np.zeros(3)], {}).result()
    assert fed.start_training(1) == 1 and fed._pool is pool  # the same count: the same workers
    assert fed.start_training(0) == 0 and fed._pool is None  # none: the clients train here
    fed.start_training(2)
    started = fed._pool
    assert started is not None and started.workers == 2
    fed.stop()
    assert fed._pool is None
