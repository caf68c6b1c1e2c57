"""Simulated clients' training in worker processes, overlapped with the rest of a round.

In the in-process runtime every daemon's step runs in one Python process, one at a time
(:class:`~fl_node.simulation.lockstep.Lockstep`), so a round uses one core while the machine has
more. Training is the one part of a client's step that touches nothing shared (no chain, no
store, no other daemon): :class:`TrainingPool` runs it in worker processes, and
:func:`offloaded_app` wraps a client app so that its ``fit`` goes to a worker while its step gives
up the turn (:meth:`Lockstep.wait_for`), letting the next clients read the chain and send their
own training out. Each step takes its turn back in the clients' order, once a fixed number of
later steps have had theirs, whatever the moment its training ends: the same transactions in the
same blocks on every run, and the bytes, hashes and scores of a run where every client trains in
the main process.

A worker is a command of its own (``python -m fl_node.simulation.offload``, never the parent's
main module), its jobs and results pickled over its standard input and output. Each client is
pinned to one worker (slot ``i`` to worker ``i mod workers``), which builds the client from the
same app reference and context once and keeps it, so an app's state between rounds stays in one
place. Production nodes never use this: a participant trains on its own machine; this only
spreads the simulated ones over the cores of one.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from multiprocessing.connection import Connection
from typing import Any, Protocol

import numpy as np

from fl_node.app.client import ClientApp, Context, NumPyClient, Parameters, Scalar
from fl_node.errors import ConfigError, FlNodeError

FitOut = tuple[Parameters, int, dict[str, Scalar]]

#: Seconds a closing pool waits for a worker to end before it stops it.
JOIN_SECONDS = 10.0

#: Bytes of each pipe to a worker (Linux's largest unprivileged size): room for many jobs.
PIPE_BYTES = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

#: The clients a worker process built, by app reference and node.
_built: dict[tuple[str, str], NumPyClient] = {}


class Waiter(Protocol):
    """What lets a step give up its turn while a worker trains (a :class:`Lockstep`)."""

    def wait_for(self, work: Ticket) -> Any: ...


def _fit_in_worker(
    ref: str, context: Context, parameters: Parameters, config: dict[str, Scalar]
) -> FitOut:
    """A worker's fit of the client ``ref`` builds for ``context`` (built once, then kept)."""
    key = (ref, context.node_id)
    client = _built.get(key)
    if client is None:
        client = _built[key] = ClientApp.load(ref).client(context)
    params, n, metrics = client.fit(parameters, config)
    return [np.asarray(p) for p in params], n, metrics


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` if it pickles, else an :class:`FlNodeError` naming it."""
    try:
        pickle.dumps(exc)
    except Exception:
        return FlNodeError(f"{type(exc).__name__}: {exc}")
    return exc


def _serve(jobs: Connection, results: Connection, warm: str | None) -> None:
    """A worker's life: fit each job read from ``jobs`` in order and send ``(id, ok, value,
    seconds)`` on ``results`` (the fit's result or the error it raised, and how long it took),
    until ``jobs`` closes. A thread reads the jobs as they come, so the parent
    never waits on a full pipe of jobs while this worker waits on a full pipe of results."""
    todo: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                todo.put(jobs.recv())
        except (EOFError, OSError):
            todo.put(None)

    threading.Thread(target=read, name="jobs", daemon=True).start()
    if warm is not None:
        with contextlib.suppress(Exception):  # the first fit reports it
            ClientApp.load(warm)
    while (job := todo.get()) is not None:
        job_id, args = job
        started = time.perf_counter()
        ok, value = True, None  # type: tuple[bool, Any]
        try:
            value = _fit_in_worker(*args)
        except BaseException as exc:  # sent to the step that asked, which raises it
            ok, value = False, _sendable(exc)
        results.send((job_id, ok, value, time.perf_counter() - started))


def _widen(fd: int) -> None:
    """Give the pipe of ``fd`` a buffer of :data:`PIPE_BYTES` where the system allows it
    (Linux), so that a few jobs' parameters or results pass without either side waiting."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)


@dataclass
class Ticket:
    """A fit sent to a worker: :meth:`wait` until it is back, :meth:`result` to take it."""

    worker: _Worker
    job_id: int

    def wait(self, timeout: float | None = None) -> bool:
        return self.worker.arrived(self.job_id, timeout)

    def result(self) -> FitOut:
        return self.worker.take(self.job_id)


class _Worker:
    """One worker process (``python -m fl_node.simulation.offload``), its jobs sent on its
    standard input and its results read from its standard output, both as pickled messages
    (its own prints go to standard error). A command of its own, rather than a
    ``multiprocessing`` child, so that it never runs the parent's main module."""

    def __init__(self, warm: str | None):
        command = [sys.executable, "-m", __name__, *(["--warm", warm] if warm else [])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._jobs = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self._results = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        _widen(self._jobs.fileno())
        _widen(self._results.fileno())
        self.process.stdin.close()
        self.process.stdout.close()
        self._arrived: dict[int, tuple[bool, Any]] = {}
        self._broken: FlNodeError | None = None  # why the worker can take no more jobs
        self._rounds: dict[int, int] = {}  # the round of each job sent and not back yet
        #: Seconds each fit of a round took in the worker, by round.
        self.fit_seconds: defaultdict[int, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def send(self, job_id: int, args: tuple[Any, ...], number: int) -> None:
        """Send job ``job_id`` (a fit of round ``number``)."""
        with self._lock:
            if self._broken is not None:
                raise self._broken
            self._rounds[job_id] = number
            try:
                self._jobs.send((job_id, args))
            except OSError:
                raise self._ended() from None

    def arrived(self, job_id: int, timeout: float | None) -> bool:
        """Whether job ``job_id``'s result is here (or the worker ended: :meth:`take` then
        raises why), waiting up to ``timeout`` seconds for it."""
        with self._lock:
            while job_id not in self._arrived and self._broken is None:
                if not self._results.poll(timeout):
                    return False
                try:
                    got, ok, value, seconds = self._results.recv()
                except (EOFError, OSError):
                    self._broken = self._ended()
                else:
                    self._arrived[got] = (ok, value)
                    self.fit_seconds[self._rounds.pop(got, 0)].append(seconds)
            return True

    def take(self, job_id: int) -> FitOut:
        self.arrived(job_id, None)
        with self._lock:
            if job_id not in self._arrived:
                assert self._broken is not None
                raise self._broken
            ok, value = self._arrived.pop(job_id)
        if not ok:
            raise value
        out: FitOut = value
        return out

    def _ended(self) -> FlNodeError:
        try:
            code = self.process.wait(JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        return FlNodeError(
            f"a training worker process ended (exit code {code}); its error is printed above"
        )

    def close(self) -> None:
        self._jobs.close()
        try:
            self.process.wait(JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(JOIN_SECONDS)
        self._results.close()


@dataclass
class TrainingPool:
    """``workers`` worker processes, started at once (their imports overlap the federation's
    set-up); client ``slot`` always trains on worker ``slot mod workers``."""

    workers: int
    warm: str | None = None  # an app reference to import in each worker up front
    _started: list[_Worker] = field(init=False, default_factory=list)
    _ids: Callable[[], int] = field(init=False)  # job ids, unique in the pool

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"training workers must be at least 1, got {self.workers}")
        self._ids = count().__next__
        self._started = [_Worker(self.warm) for _ in range(self.workers)]

    def fit(
        self,
        slot: int,
        ref: str,
        context: Context,
        parameters: Parameters,
        config: dict[str, Scalar],
    ) -> Ticket:
        worker = self._started[slot % self.workers]
        job_id = self._ids()
        number = config.get("server_round", 0)
        worker.send(job_id, (ref, context, parameters, config), int(number or 0))
        return Ticket(worker, job_id)

    def fit_seconds(self) -> dict[int, list[float]]:
        """The seconds each fit back from a worker took there, by round (``server_round``): the
        training time alone, where a step's own clock also counts its wait for its turn."""
        out: defaultdict[int, list[float]] = defaultdict(list)
        for worker in self._started:
            for number, seconds in worker.fit_seconds.items():
                out[number].extend(seconds)
        return dict(out)

    def close(self) -> None:
        for worker in self._started:
            worker.close()
        self._started = []

    def __enter__(self) -> TrainingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class OffloadedClient:
    """A client whose ``fit`` runs in a worker of ``pool``; ``get_parameters`` and
    ``evaluate`` run on a copy built in this process when first asked."""

    pool: TrainingPool
    waiter: Waiter
    slot: int
    ref: str
    context: Context
    _local: Callable[[], NumPyClient]

    def get_parameters(self, config: dict[str, Scalar]) -> Parameters:
        return self._local().get_parameters(config)

    def fit(self, parameters: Parameters, config: dict[str, Scalar]) -> FitOut:
        ticket = self.pool.fit(self.slot, self.ref, self.context, parameters, dict(config))
        out: FitOut = self.waiter.wait_for(ticket)
        return out

    def evaluate(
        self, parameters: Parameters, config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        return self._local().evaluate(parameters, config)


def offloaded_app(pool: TrainingPool, waiter: Waiter, slot: int, ref: str) -> ClientApp:
    """The client app ``ref`` of slot ``slot``, its ``fit`` trained in ``pool``."""
    local = ClientApp.load(ref)

    def client_fn(context: Context) -> OffloadedClient:
        return OffloadedClient(pool, waiter, slot, ref, context, lambda: local.client(context))

    return ClientApp(client_fn, name=ref)


def main(argv: list[str] | None = None) -> None:
    """A worker's entry: serve jobs from standard input until it closes."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--warm", help="an app reference to import before the first job")
    args = parser.parse_args(argv)
    jobs = Connection(os.dup(0), writable=False)
    results = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # an app's prints go to standard error, never into the results
    _serve(jobs, results, args.warm)


if __name__ == "__main__":
    main()
