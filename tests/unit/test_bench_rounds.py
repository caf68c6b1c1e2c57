"""`fl-node bench rounds`: its figures from timings and memory samples (pure), its table and
target lines, and its clear errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fl_node.bench.rounds import (
    MB,
    MemorySample,
    extrapolate_total,
    failure_reason,
    fit_min_samples,
    flower_actors,
    flower_failures,
    median_run,
    median_stages,
    memory_sample,
    peak_memory,
    processes_skip_reason,
    round_spans,
    round_stages,
    run_note,
    run_rounds_bench,
    span_of_calls,
    steady_rounds,
    summarize_rounds,
    target_lines,
    to_markdown,
    window_wait,
)
from fl_node.cli import main


def test_steady_rounds_leave_out_the_first_and_the_last() -> None:
    assert steady_rounds([3, 1, 2, 5, 4]) == [2, 3, 4]
    assert steady_rounds([1, 2]) == [1, 2]  # too few to leave any out
    assert steady_rounds([]) == []


def test_round_summary() -> None:
    out = summarize_rounds({1: 40.0, 2: 4.0, 3: 6.0, 4: 11.0, 5: 9.0})
    assert out["first"] == 40.0 and out["last"] == 9.0 and out["count"] == 5
    assert out["steady"] == pytest.approx(7.0)  # rounds 2, 3 and 4
    assert out["steady_median"] == 6.0
    assert summarize_rounds({})["steady"] is None


def test_memory_sums_the_tree_with_anvil_apart() -> None:
    sample = memory_sample([("python", 300 * MB), ("anvil", 50 * MB), ("raylet", 20 * MB)])
    assert sample == MemorySample(total=370 * MB, anvil=50 * MB, processes=3)
    peaks = peak_memory(
        [MemorySample(100 * MB, 60 * MB, 2), MemorySample(400 * MB, 40 * MB, 9)]
    )  # each peak on its own
    assert peaks == {"peak_mb": 400.0, "anvil_peak_mb": 60.0, "peak_processes": 9, "samples": 2}
    assert peak_memory([])["peak_mb"] is None


def test_the_challenge_window_is_the_wait_for_the_chain_clock() -> None:
    # posted at 100.3 (block timestamp 100), window 0 s: the chain passes it at wall time 101
    assert window_wait(100.3, 101.5, 100, 100) == pytest.approx(0.7)
    # finalized before the window seemed to open (clocks): never more than until finalization
    assert window_wait(100.3, 100.8, 100, 100) == pytest.approx(0.5)
    # the chain's clock already past the deadline when the post was seen: no wait
    assert window_wait(100.3, 100.4, 101, 100) == 0.0
    # a 2-s window
    assert window_wait(100.3, 104.0, 100, 102) == pytest.approx(2.7)


def test_a_rounds_stages_add_up_to_its_wall_time() -> None:
    marks = {"opened": 10.0, "committed": 10.6, "revealed": 10.9, "posted": 11.2}
    marks |= {"finalized": 12.0, "window": 0.5}
    stages = round_stages(marks)
    assert stages == pytest.approx(
        {
            "train_commit": 0.6,
            "upload_reveal": 0.3,
            "aggregate_post": 0.3,
            "window": 0.5,
            "finalize": 0.3,
            "wall": 2.0,
            "critical": 1.5,
        }
    )
    # a task without a challenge window: the post finalized the round, stamped before the post
    # was seen, so nothing is left for the finalization
    final = round_stages({"opened": 10.0, "posted": 10.5, "finalized": 10.48, "window": 0.0})
    assert (final["finalize"], final["wall"]) == (0.0, pytest.approx(0.48))
    # milestones not seen: their stages are left out, not guessed
    assert round_stages({"opened": 1.0, "finalized": 3.0}) == {"wall": 2.0}
    per_round = {1: {"wall": 9.0}, 2: {"wall": 2.0}, 3: {"wall": 4.0}, 4: {"wall": 3.0}}
    assert median_stages(per_round) == {"wall": 3.0}


def test_a_round_runs_from_the_previous_finalization_to_its_own() -> None:
    # round 2 opened at 11.5, but the clients' claims of round 1 came after 11.0: they count
    stamps = {
        "1": {"opened_at": 10.0, "finalized_at": 11.0},
        "2": {"opened_at": 11.5, "finalized_at": 12.2},
        "3": {"opened_at": 12.2},  # not finalized: no figure
    }
    assert round_spans(stamps) == pytest.approx({1: 1.0, 2: 1.2})
    # Flower's likewise: from the end of the round before
    assert span_of_calls({1: [0.0, 2.0], 2: [2.1, 2.5], 3: [2.6]}) == pytest.approx(
        {1: 2.0, 2: 0.5}
    )


def test_training_figures_come_from_the_workers_when_the_clients_trained_there() -> None:
    from fl_node.bench.rounds import _fl_node_daemon_figures

    stats = {
        "aggregator": {"1": {"opened_at": 0.0, "finalized_at": 1.0, "tx": 0.1, "compute": 0.2}},
        "node-0": {"1": {"train": 0.9, "tx": 0.05}},  # its clock ran while it waited its turn
        "node-1": {"1": {"train": 0.7, "tx": 0.05}},
    }
    _walls, own = _fl_node_daemon_figures(stats)
    assert own[1]["train_sum"] == pytest.approx(1.6) and own[1]["train_max"] == 0.9
    _walls, workers = _fl_node_daemon_figures(stats, {1: [0.02, 0.03]})
    assert workers[1]["train_sum"] == pytest.approx(0.05) and workers[1]["train_max"] == 0.03
    assert workers[1]["tx_sum"] == pytest.approx(0.2)


def test_the_watcher_sees_a_round_that_ended_with_the_next_ones_opening() -> None:
    from types import SimpleNamespace

    from fl_node.bench.rounds import Milestones
    from fl_node.federation.protocol import Phase

    rounds = {
        1: SimpleNamespace(phase=Phase.FINALIZED, commits=2, reveals=2, challenge_deadline=100),
        2: SimpleNamespace(phase=Phase.COMMIT, commits=1, reveals=0, challenge_deadline=0),
    }
    watch = Milestones.__new__(Milestones)
    watch.clients, watch.seen = 2, {}
    watch.api = SimpleNamespace(  # type: ignore[assignment]
        state=lambda: SimpleNamespace(current_round=2),
        round=lambda n: rounds[n],
        chain_time=lambda: 100,
    )
    watch.tick()
    # round 1 was posted, final and followed by round 2 between two looks: all of it is noted
    assert {"committed", "revealed", "posted", "finalized"} <= set(watch.seen[1])
    assert watch.seen[2] == {}  # one commit of two: nothing reached yet


def test_separate_processes_beyond_the_limit_are_not_attempted() -> None:
    assert processes_skip_reason(32, 32) is None
    reason = processes_skip_reason(128, 32)
    assert reason is not None and "128 client processes" in reason
    assert "--max-processes 32" in reason


def test_a_shorter_run_is_extrapolated_to_ten_rounds() -> None:
    # set-up 60 s, first round 20 s, steady 10 s, last 12 s, 5 s after the last round
    per_round = {1: 20.0, 2: 10.0, 3: 10.0, 4: 12.0}
    assert extrapolate_total(60.0, per_round, 10, 5.0) == pytest.approx(60 + 20 + 80 + 12 + 5)
    assert extrapolate_total(60.0, {}, 10) is None


def test_min_samples_is_lowered_only_where_the_data_cannot_give_it() -> None:
    assert fit_min_samples(10, 1078, 32) == 10
    assert fit_min_samples(10, 1078, 128) == 8
    assert fit_min_samples(10, 5, 128) == 1
    note = run_note({"actors": 32, "min_samples": 8, "samples": [8, 9]})
    assert note == "32 Ray actors; 8-9 samples per client (min_samples 8)"
    assert run_note({"train_workers": 1}) == "1 training worker"
    assert run_note({"train_workers": 2}) == "2 training workers"
    assert run_note({"train_workers": 0}) == "training in its own process"
    assert run_note({"min_samples": 10, "samples": [33, 34]}) == ""


def test_a_flower_run_with_failing_client_apps_does_not_count() -> None:
    assert flower_failures({1: 8, 2: 8}, 8) is None
    assert flower_failures({1: 8, 2: 0, 3: 5}, 8) == (
        "round 2: 0 of 8 ClientApps replied without an error"
    )


def test_a_failure_is_one_line() -> None:
    log = "starting\nTraceback (most recent call last):\n  File x\nChainError: RPC | gone\n"
    assert failure_reason(log, 1) == "ChainError: RPC / gone"
    assert failure_reason("", -9) == "killed by signal 9"
    assert failure_reason("nothing useful", 3) == "exit code 3"


def _ok(runtime: str, clients: int, steady: float, peak: float, **extra: Any) -> dict[str, Any]:
    return {
        "runtime": runtime,
        "clients": clients,
        "status": "ok",
        "rounds": {"steady": steady, "first": 2 * steady, "count": 10},
        "memory": {"peak_mb": peak, "anvil_peak_mb": 50.0},
        "total_seconds": 100.0,
        **extra,
    }


def _result() -> dict[str, Any]:
    return {
        "rounds": 10,
        "sizes": [8, 32, 128],
        "runtimes": ["in-process", "processes", "flower"],
        "results": [
            _ok("in-process", 8, 0.5, 400.0),
            _ok("processes", 8, 2.0, 3000.0, critical={"steady": 1.2}),
            _ok("flower", 8, 0.25, 2000.0, note="8 Ray actors"),
            _ok("in-process", 32, 3.0, 600.0),
            {"runtime": "processes", "clients": 32, "status": "failed", "reason": "exit code 1"},
            _ok("flower", 32, 0.5, 3000.0),
            _ok("in-process", 128, 30.0, 900.0, total_seconds=650.0),
            {"runtime": "processes", "clients": 128, "status": "skipped", "reason": "not run"},
        ],
    }


def test_the_table_sets_each_runtime_beside_flower() -> None:
    text = to_markdown(_result())
    assert "| 8 | in-process | 0.50 (2.0x) | 1.00 | – | 100 | 400 (50) (0.2x) |  |" in text
    assert "| 8 | flower | 0.25 | 0.50 | – | 100 | 2000 | 8 Ray actors |" in text
    assert "| 32 | processes | – | – | – | – | – | exit code 1 |" in text
    assert "| 128 | processes | – | – | – | – | – | not run |" in text


def test_the_target_lines_say_met_or_not() -> None:
    lines = target_lines(_result())
    assert lines[0].startswith("(a) at or below Flower at 8 clients: seconds per round not met")
    assert "memory met (400 MB against 2000 MB)" in lines[0]
    assert "seconds per round not met (3.00 s against 0.50 s), memory met" in lines[1]
    assert lines[2] == (
        "(a) 128 clients, 10 rounds under 10 minutes (set-up included): not met (650 s)"
    )
    assert lines[3] == "(b) critical path under 1.5 s at 8 clients: met (1.20 s per steady round)"


def test_a_short_large_run_is_labelled_as_extrapolated() -> None:
    result = _result()
    large = result["results"][6]
    large["rounds"]["count"] = 3
    large["extrapolated_total"] = 420.0
    line = target_lines(result)[2]
    assert "EXTRAPOLATED from 3 measured rounds" in line and line.endswith("about 420 s, met")
    result["results"] = []
    assert all("not measured" in line for line in target_lines(result))


def test_too_few_rounds_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "rounds", "--rounds", "2"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == "error: --rounds must be at least 3 (the first and last are reported apart)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sizes", "1"], "argument --sizes: 1 must be >= 2 (a federation needs at least 2"),
        (["--sizes", "eight"], "argument --sizes: 'eight' is not an integer"),
        (["--rounds", "0"], "argument --rounds: 0 must be >= 1"),
        (["--runtimes", "ray"], "argument --runtimes: invalid choice: 'ray'"),
        (["--max-processes", "-1"], "argument --max-processes: -1 must be >= 1"),
        (["--repeats", "0"], "argument --repeats: 0 must be >= 1"),
        (["--flower-actors", "none"], "argument --flower-actors: 'none' is not an integer"),
        (["--train-workers", "-1"], "argument --train-workers: -1 must be >= 0"),
    ],
)
def test_bad_options_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "rounds", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_failed_run_keeps_its_logs_and_drops_the_chain_states(tmp_path: Path) -> None:
    from fl_node.bench.rounds import drop_chain_states

    run = tmp_path / "in-process-128" / "run"
    run.mkdir(parents=True)
    (run / "chain-state.json").write_text("{}")
    (tmp_path / "in-process-128" / "child.log").write_text("log")
    (run / "deployment.json").write_text("{}")
    assert drop_chain_states(tmp_path) == 1
    assert not (run / "chain-state.json").exists()
    assert (tmp_path / "in-process-128" / "child.log").read_text() == "log"
    assert (run / "deployment.json").exists()
    assert drop_chain_states(tmp_path / "missing") == 0


def test_the_median_run_stands_for_the_repeats_with_their_range() -> None:
    runs = [
        _ok("in-process", 32, 0.41, 560.0),
        {"runtime": "in-process", "clients": 32, "status": "failed", "reason": "exit code 1"},
        _ok("in-process", 32, 0.29, 570.0),
        _ok("in-process", 32, 0.33, 565.0),
    ]
    chosen = median_run(runs)
    assert chosen["rounds"]["steady"] == 0.33 and chosen["memory"]["peak_mb"] == 565.0
    assert chosen["repeats"] == [0.41, 0.29, 0.33]  # in run order
    assert chosen["note"] == "median of 3 runs (0.29-0.41 s); 1 of 4 runs failed"
    # an even count takes the lower middle run; a single run has no range
    assert median_run(runs[2:] + runs[:1])["rounds"]["steady"] == 0.33
    assert median_run(runs[:2])["repeats"] == [0.41] and median_run(runs[:1])["note"] == ""
    # nothing succeeded: the last failure stands, with its reason
    assert median_run(runs[1:2])["reason"] == "exit code 1"
    with pytest.raises(ValueError, match="no runs"):
        median_run([])


def test_the_runtimes_runs_interleave_and_flower_gets_one_actor_per_core(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int | None]] = []
    steady = iter([0.3, 0.4, 0.5, 0.2, 0.6, 0.1, 0.3])

    def fake(runtime: str, clients: int, rounds: int, folder: Path, timeout: float,
             actors: int | None = None, workers: int | None = None) -> dict[str, Any]:  # fmt: skip
        calls.append((runtime, clients, actors if runtime == "flower" else workers))
        r = _ok(runtime, clients, next(steady), 500.0)
        if runtime == "in-process":
            r.update(per_round={"1": 1.0, "2": 0.5}, setup_seconds=1.0, join_seconds=1.0)
        return r

    lines: list[str] = []
    result = run_rounds_bench(
        [8], 10, ["flower", "in-process", "processes"], max_processes=4, workdir=tmp_path,
        say=lines.append, repeats=3, run=fake,
    )  # fmt: skip
    cores = os.cpu_count() or 1
    workers = 1 if cores >= 2 else 0  # the in-process runtime's default training workers
    assert calls == [("in-process", 8, workers), ("flower", 8, min(8, cores))] * 3
    ours, processes, flower = result["results"]
    assert ours["repeats"] == [0.3, 0.5, 0.6] and ours["rounds"]["steady"] == 0.5
    assert flower["repeats"] == [0.4, 0.2, 0.1] and flower["rounds"]["steady"] == 0.2
    assert processes["status"] == "skipped"
    assert sum("processes" in line for line in lines) == 1  # said once, not per repeat
    assert lines[0].endswith("(run 1 of 3)")
    assert "Each runtime ran 3 times at each size" in to_markdown(result)
    assert flower_actors(32, asked=4) == 4 and flower_actors(3, cores=8) == 3
    assert flower_actors(32, cores=2) == 2
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        run_rounds_bench([8], repeats=0, run=fake)
    calls.clear()
    run_rounds_bench([8], 10, ["in-process"], workdir=tmp_path, say=lines.append, repeats=1,
                     run=fake, workers=0)  # fmt: skip
    assert calls == [("in-process", 8, 0)]
