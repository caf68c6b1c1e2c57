"""What a waiting node costs: CPU seconds per minute of a node process that waits, and the time
from its start to its join.

One ``fl-node node`` process of the ``tiny`` task (3 seats) runs on an embedded Anvil, as a
participant would. It starts, registers and joins, then waits for the round to open (the other
seats are empty); the benchmark measures its CPU time over a window. Then the other two seats are
filled and round 1 opened from this process: the node trains, commits and waits for the others'
commits, which never come; its CPU time is measured again. Each chain mode runs once: Anvil mining
on every transaction, and Anvil mining a block every few seconds, like a public network.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from fl_node.commands import argtypes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fl-node bench idle``."""
    p = sub.add_parser(
        "idle",
        help="CPU a waiting node uses, and its time from start to joined",
        description="Runs one node process of the tiny task on an embedded Anvil and measures "
        "its CPU seconds per minute while it waits for a round to open and while it waits for "
        "the other clients' commits, and the time from its start to its join.",
    )
    p.add_argument(
        "--seconds",
        type=argtypes.seconds,
        default=30.0,
        help="length of each measuring window (default: %(default)s)",
    )
    p.add_argument(
        "--block-time",
        type=argtypes.non_negative_seconds,
        nargs="+",
        default=[0.0, 2.0],
        help="chain modes: 0 mines on every transaction, N mines a block every N s (default: 0 2)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default: %(default)s)"
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from fl_node.errors import ConfigError

    if args.seconds <= 0 or any(bt < 0 for bt in args.block_time):
        raise ConfigError("--seconds must be > 0 and --block-time values >= 0")
    result = run_idle(args.seconds, args.block_time)
    markdown = to_markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "idle.json").write_text(json.dumps(result, indent=2))
    (args.out / "idle.md").write_text(markdown + "\n")
    print(markdown)
    print(f"written to {args.out / 'idle.json'} and {args.out / 'idle.md'}")
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process ``pid`` has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_idle(seconds: float, block_times: list[float]) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "modes": [_measure(seconds, bt) for bt in block_times],
    }


def _measure(seconds: float, block_time: float) -> dict[str, Any]:
    import dataclasses
    import tempfile
    import time

    from fl_node.chain.keys import account_from_key
    from fl_node.configs import load_config
    from fl_node.errors import FlNodeError
    from fl_node.federation.protocol import FederationApi
    from fl_node.simulation.localfed import FIRST_CLIENT, SIMULATED_CLIENTS, LocalFederation
    from fl_node.toolchain.localchain import dev_private_key

    config = load_config("tiny")
    # Windows long enough that nothing but the node's own waiting happens while measuring.
    config = config.replace(
        federation=dataclasses.replace(config.federation, commit_window=int(seconds) + 600)
    )
    with (
        tempfile.TemporaryDirectory(prefix="fl-node-idle-") as tmp,
        LocalFederation(config, Path(tmp) / "run") as fed,
    ):
        if block_time > 0:
            fed.chain.block_time = block_time
        fed.setup(say=lambda _m: None)
        api = FederationApi(fed.client, fed.task_id)
        argv = [
            "node",
            "--rpc", fed.chain.rpc_url,
            "--deployment", str(fed.deployment_path),
            "--config", str(fed.config_path),
            "--task", str(fed.task_id),
            "--workdir", str(fed.run_dir / "work"),
            "--dev-account", str(FIRST_CLIENT),
            "--index", "0",
            "--app", SIMULATED_CLIENTS,
        ]  # fmt: skip
        log = fed.run_dir / "logs" / "node-0.log"
        child = fed.processes.add("node-0", argv, log)
        started = time.monotonic()
        child.start()
        assert child.process is not None
        pid = child.process.pid

        def wait_for(text: str, timeout: float = 300.0) -> float:
            while text not in (log.read_text() if log.exists() else ""):
                if child.poll() is not None:
                    raise FlNodeError(f"the node exited: {child.log_tail()}")
                if time.monotonic() - started > timeout:
                    raise FlNodeError(f"the node did not log {text!r} in time")
                time.sleep(0.05)
            return time.monotonic() - started

        joined = wait_for("joined task")
        time.sleep(1.0)  # let the post-join top-up settle
        before_open = _window(pid, seconds)

        # Fill the other seats and open round 1: the node trains, commits and then waits.
        others = [account_from_key(dev_private_key(FIRST_CLIENT + i)) for i in (1, 2)]
        params = api.params()
        for i, other in enumerate(others, start=1):
            api.registry.register(other, f"Other {i}", f"OTH{i}")
            api.vault.deposit(other, params.join_bond)
            api.join(other)
        api.bond_aggregator(fed.aggregator, params.aggregator_bond)
        api.open_round(fed.aggregator)
        wait_for("round 1: committed")
        time.sleep(1.0)
        in_round = _window(pid, seconds)
        fed.processes.stop_all()
    return {
        "block_time": block_time,
        "seconds_to_joined": joined,
        "waiting_for_round": usage(before_open),
        "waiting_for_commits": usage(in_round),
    }


def _window(pid: int, seconds: float) -> tuple[float, float]:
    import time

    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return cpu_seconds(pid) - cpu0, time.monotonic() - t0


def usage(window: tuple[float, float]) -> dict[str, float]:
    """CPU seconds per minute and the share of one core, from (CPU seconds, wall seconds)."""
    cpu, wall = window
    return {"cpu_seconds_per_minute": 60.0 * cpu / wall, "core_percent": 100.0 * cpu / wall}


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"A waiting node of the tiny task (one `fl-node node` process, windows of "
        f"{result['seconds']:g} s):",
        "",
        "| chain | start to joined s | waiting for a round: CPU s / min | % of a core "
        "| waiting for commits: CPU s / min | % of a core |",
        "|---|---|---|---|---|---|",
    ]
    for m in result["modes"]:
        chain = (
            "mines on every transaction"
            if m["block_time"] == 0
            else (f"a block every {m['block_time']:g} s")
        )
        a, b = m["waiting_for_round"], m["waiting_for_commits"]
        lines.append(
            f"| {chain} | {m['seconds_to_joined']:.1f} | {a['cpu_seconds_per_minute']:.2f} | "
            f"{a['core_percent']:.2f} % | {b['cpu_seconds_per_minute']:.2f} | "
            f"{b['core_percent']:.2f} % |"
        )
    return "\n".join(lines)
