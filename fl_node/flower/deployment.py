"""Flower's Deployment Engine on one machine: a SuperLink and SuperNodes as separate processes.

What the tests and the benchmark run, and what the README's commands do by hand: one
``flower-superlink --insecure --disable-runtime-dependency-installation`` (the app runs in this
environment, so nothing is installed at run time: ``flwr run`` would otherwise resolve the app's
dependencies with uv, pulling a CUDA build of torch), one ``flower-supernode --insecure`` per
client with its own ``--node-config``, and ``flwr run <app> <connection> --stream``. Everything
Flower writes (the connection config, installed app bundles) goes under a private ``FLWR_HOME``.

Each process is started in a session of its own and stopped by its process group id (Flower's
SuperNodes start helper processes: ``flower-superexec`` and one ``flwr-clientapp`` per message),
never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fl_node.errors import FlNodeError
from fl_node.toolchain.localchain import free_port

CONNECTION = "local"


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def toml_pairs(values: Mapping[str, Any]) -> str:
    """``key=value`` pairs as Flower's ``--node-config`` and ``--run-config`` parse them (TOML
    values: strings quoted, booleans lower-case)."""
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = repr(value)
        else:
            text = json.dumps(str(value))
        out.append(f"{key}={text}")
    return " ".join(out)


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)  # its own session: pgid == pid
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        else:  # helpers it started may outlive it: end its process group too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self.log.close()

    def tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


@dataclass
class RunResult:
    returncode: int
    seconds: float
    log: str
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)

    def round_seconds(self) -> dict[int, float]:
        """Each round's seconds, from when Flower logged ``[ROUND r/N]`` to the next round's
        line (or the end of the strategy)."""
        marks: list[tuple[int, float]] = []
        end = None
        for at, line in self.lines:
            found = re.search(r"\[ROUND (\d+)/\d+\]", line)
            if found:
                marks.append((int(found.group(1)), at))
            elif "Strategy execution finished" in line:
                end = at
        out = {}
        for i, (number, at) in enumerate(marks):
            stop = marks[i + 1][1] if i + 1 < len(marks) else end
            if stop is not None:
                out[number] = stop - at
        return out


@dataclass
class LocalDeployment:
    """A SuperLink and SuperNodes of this machine (see the module's documentation)."""

    home: Path
    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    port: int = field(default=0)
    processes: list[_Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = self.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["FLWR_HOME"] = str(self.home / "flwr")
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # Flower's anonymous usage events: off
        return env

    def __enter__(self) -> LocalDeployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str]) -> _Process:
        log_path = self.home / "logs" / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 (closed by stop)
        popen = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        proc = _Process(name, popen, log_path, log)
        self.processes.append(proc)
        return proc

    def start_superlink(self, timeout: float = 60.0) -> None:
        """``flower-superlink`` on a free port, ready when it listens there."""
        self.port = free_port()
        proc = self._spawn(
            "superlink",
            [
                str(self.bin_dir / "flower-superlink"),
                "--insecure",
                "--disable-runtime-dependency-installation",
                "--host", "127.0.0.1",
                "--port", str(self.port),
            ],
        )  # fmt: skip
        self._write_connection()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise FlNodeError(f"flower-superlink exited at start:\n{proc.tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return  # listening: its API is up
            time.sleep(0.3)
        raise FlNodeError(f"flower-superlink did not answer within {timeout:.0f} s:\n{proc.tail()}")

    def _write_connection(self) -> None:
        flwr_home = self.home / "flwr"
        flwr_home.mkdir(parents=True, exist_ok=True)
        (flwr_home / "config.toml").write_text(
            "[superlink]\n"
            f'default = "{CONNECTION}"\n\n'
            f"[superlink.{CONNECTION}]\n"
            f'address = "127.0.0.1:{self.port}"\n'
            "insecure = true\n"
        )

    def add_supernode(self, name: str, node_config: Mapping[str, Any]) -> None:
        """A ``flower-supernode`` with its own node config and runtime API port."""
        if not self.port:
            raise FlNodeError("start the SuperLink first")
        self._spawn(
            name,
            [
                str(self.bin_dir / "flower-supernode"),
                "--insecure",
                "--superlink", f"127.0.0.1:{self.port}",
                "--port", str(free_port()),
                "--node-config", toml_pairs(node_config),
            ],
        )  # fmt: skip

    def check(self) -> None:
        """Raise with the log of a process that died."""
        for proc in self.processes:
            if proc.popen.poll() is not None:
                raise FlNodeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")

    def run(
        self, app: Path, run_config: Mapping[str, Any] | None = None, timeout: float = 600.0
    ) -> RunResult:
        """``flwr run <app> local --stream``; returns when the run is over, with its streamed log
        and when each line arrived."""
        self.check()
        argv = [str(self.bin_dir / "flwr"), "run", str(app), CONNECTION, "--stream"]
        if run_config:
            argv += ["--run-config", toml_pairs(run_config)]
        runs = len(list((self.home / "logs").glob("flwr-run-*")))
        log_path = self.home / "logs" / f"flwr-run-{runs}.log"
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        lines: list[tuple[float, str]] = []
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        timer = threading.Timer(timeout, lambda: _kill_group(proc.pid))
        timer.start()
        try:
            with open(log_path, "wb") as log:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    log.write(raw)
                    lines.append((time.perf_counter() - started, raw.decode(errors="replace")))
            code = proc.wait()
        finally:
            timer.cancel()
        text = "".join(line for _, line in lines)
        if time.monotonic() > deadline:
            raise FlNodeError(f"flwr run did not finish within {timeout:.0f} s:\n{text[-4000:]}")
        return RunResult(code, time.perf_counter() - started, text, lines)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()
