"""A whole federation on one machine: what ``fl-node demo`` and the end-to-end tests run.

:class:`LocalFederation` starts an embedded Anvil (its state saved in the run folder, so the run can
be reopened and audited later), deploys the suite, funds a sponsor and the clients with base
tokens, creates the task, and runs the aggregator and every client as separate ``fl-node``
processes, exactly as they would run on separate machines. It watches the chain for progress and
fails fast, with the failing process's log, when a process dies.

Accounts of the dev mnemonic: 0 deployer, 1 sponsor, 2 aggregator, 3.. clients.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from eth_account.signers.local import LocalAccount

from fl_node.app.client import ClientApp, Scalar
from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import BaseToken
from fl_node.chain.deploy import SuiteConfig, deploy_suite
from fl_node.chain.deployments import Deployment
from fl_node.chain.keys import account_from_key
from fl_node.config import TaskConfig
from fl_node.errors import FlNodeError
from fl_node.federation.context import TaskContext
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus
from fl_node.federation.sponsor import create_task
from fl_node.simulation.lockstep import AnvilMiner, Lockstep
from fl_node.simulation.offload import TrainingPool, offloaded_app
from fl_node.simulation.processes import ProcessGroup
from fl_node.toolchain.build import compile_contracts
from fl_node.toolchain.localchain import LocalChain, dev_private_keys, rpc_call

DEPLOYER, SPONSOR, AGGREGATOR, FIRST_CLIENT = 0, 1, 2, 3
#: The client app of simulated participants: the example app with each slot's quality profile.
SIMULATED_CLIENTS = "fl_node.simulation.apps:client_fn"
#: The node of a simulated copycat (copying happens on the protocol, not in an app).
COPYCAT = "fl_node.simulation.adversaries:CopycatNode"


def default_train_workers(cores: int | None = None) -> int:
    """Training workers of the in-process runtime: one on a machine of two cores or more (the
    runtime's own process, not the training, is what a round waits for: a second worker
    measured slower on two cores), none on one core."""
    count = cores if cores is not None else (os.cpu_count() or 1)
    return 1 if count >= 2 else 0


def train_workers(asked: int | None = None) -> int:
    """The training workers of an in-process run asked for ``asked`` (None:
    :func:`default_train_workers`); FlNodeError for a negative count."""
    count = default_train_workers() if asked is None else asked
    if count < 0:
        raise FlNodeError(f"training workers must be 0 or more, got {count}")
    return count


class Steppable(Protocol):
    def step(self) -> bool: ...

    def next_look(self) -> float | None: ...


class ChainClock(Protocol):
    """The clock of a chain this process owns (a simulation's Anvil)."""

    def block(self) -> int: ...

    def advance(self, seconds: int) -> None: ...


@dataclass(frozen=True)
class AnvilClock:
    """An Anvil's clock, moved forward with ``evm_increaseTime`` and a mined block."""

    url: str
    #: Seconds to wait for an answer: an Anvil dumping a long run's state every few seconds on
    #: a busy machine can take longer than a plain call's 2 s.
    timeout: float = 30.0

    def block(self) -> int:
        return int(rpc_call(self.url, "eth_blockNumber", timeout=self.timeout), 16)

    def advance(self, seconds: int) -> None:
        rpc_call(self.url, "evm_increaseTime", [seconds], timeout=self.timeout)
        rpc_call(self.url, "evm_mine", timeout=self.timeout)


@dataclass(frozen=True)
class ClientClock:
    """:class:`AnvilClock` over a chain client's kept-alive connection: the in-process runtime
    looks at the block number after every pass, and a new connection a look cost more than the
    request."""

    client: ChainClient

    def block(self) -> int:
        return int(self.client.request("eth_blockNumber"), 16)

    def advance(self, seconds: int) -> None:
        self.client.request("evm_increaseTime", [seconds])
        self.client.request("evm_mine")


@dataclass
class InProcessRuntime:
    """Daemons of one federation stepped in turn in one process (no polling delays: a step that
    changed nothing is followed at once by the next daemon's, and a pass that moved the chain by
    the next pass; only a pass that left the chain as it was sleeps ``idle_sleep``)."""

    daemons: list[Steppable]
    idle_sleep: float = 0.05
    #: Whether the last daemon (the aggregator) may step now (a market session holds it).
    gate: Callable[[], bool] | None = None
    #: The chain's clock, to skip waits: when a whole pass sent no transaction, nobody can act
    #: before the earliest time a daemon waits for (a window's end, the next second of the chain's
    #: clock), so the chain's clock jumps there instead of the runtime sleeping until then. None:
    #: real time. Jumps longer than ``max_jump`` seconds are not made (real time passes instead).
    clock: ChainClock | None = None
    max_jump: int = 600
    #: Steps every daemon but the last (the aggregator) together, their transactions mined in
    #: shared blocks (see :class:`~fl_node.simulation.lockstep.Lockstep`); the last then steps
    #: on its own. None: one daemon after the other, each transaction in a block of its own.
    together: Lockstep | None = None

    def run(
        self,
        progress: Callable[[], Progress],
        timeout: float,
        on_tick: Callable[[Progress], None] | None = None,
    ) -> Progress:
        deadline = time.monotonic() + timeout
        active = list(self.daemons)
        gated = self.daemons[-1] if self.gate is not None else None
        while active:
            before = self.clock.block() if self.clock is not None else None
            active = self._pass(active, gated)
            current = progress()
            if on_tick is not None:
                on_tick(current)
            moved = False
            if before is not None and active and (self.gate is None or self.gate()):
                moved = self._jump(active, before)
            if time.monotonic() > deadline:
                raise FlNodeError(f"the federation did not finish within {timeout:.0f} s")
            if active and not moved:
                time.sleep(self.idle_sleep)
        return progress()

    def _pass(self, active: list[Steppable], gated: Steppable | None) -> list[Steppable]:
        """One step of every active daemon (the gated one only when its gate is open); the
        daemons not done yet, in order."""

        def steps_on(d: Steppable) -> bool:
            return (d is gated and not self.gate()) or not d.step()  # type: ignore[misc]

        if self.together is None:
            return [d for d in active if steps_on(d)]
        last = self.daemons[-1]
        group = [d for d in active if d is not last]
        finished = self.together.run_pass([d.step for d in group]) if group else []
        going = [d for d, done in zip(group, finished, strict=True) if not done]
        return going + [d for d in active if d is last and steps_on(d)]

    def _jump(self, active: list[Steppable], before: int) -> bool:
        """Move the chain's clock to the earliest time a daemon waits for, if the pass that
        started at block ``before`` changed nothing; True when the chain moved (by the pass or
        the jump), so every daemon looks again at once."""
        assert self.clock is not None
        if self.clock.block() != before:
            return True
        seconds = jump_seconds([d.next_look() for d in active], time.time(), self.max_jump)
        if seconds:
            self.clock.advance(seconds)
        return bool(seconds)


def jump_seconds(looks: list[float | None], now: float, max_jump: int) -> int:
    """Whole seconds to move an idle chain's clock forward: to the earliest of ``looks`` (wall
    times some daemon waits for; None: it waits for an event only); 0 if none is ahead, or the
    earliest is more than ``max_jump`` seconds away."""
    ahead = [look - now for look in looks if look is not None]
    if not ahead or min(ahead) <= 0:
        return 0
    seconds = math.ceil(min(ahead))
    return seconds if seconds <= max_jump else 0


@dataclass(frozen=True)
class Progress:
    round: int
    phase: Phase
    finalized: int
    status: TaskStatus


@dataclass
class LocalFederation:
    config: TaskConfig
    run_dir: Path
    client_funds: float | None = None  # base tokens minted to each client (default: ample)
    poll: float = 0.5
    #: Deployment settings; local runs stream dividends over a minute, so a 10-round run sees
    #: them arrive.
    suite: SuiteConfig = field(default_factory=lambda: SuiteConfig(dividend_duration=60))
    #: Client apps of particular slots (``module:attribute``); the others are simulated clients.
    apps: dict[int, str] = field(default_factory=dict)
    #: The artifact store every role shares (default: a folder ``store`` in the run folder).
    store: str | None = None
    #: Extra node settings of particular slots (what ``--node-config key=value`` gives an app).
    node_config: dict[int, dict[str, Scalar]] = field(default_factory=dict)
    chain: LocalChain = field(init=False)
    client: ChainClient = field(init=False)
    deployment: Deployment = field(init=False)
    task_id: int = field(init=False, default=0)
    processes: ProcessGroup = field(init=False, default_factory=ProcessGroup)
    #: Seconds each client's fit took in the last in-process run's training workers, by round
    #: (none when the clients trained in the runtime's own process).
    fit_seconds: dict[int, list[float]] = field(init=False, default_factory=dict)
    #: The training workers of in-process runs (:meth:`start_training`), and how many were asked.
    _pool: TrainingPool | None = field(init=False, default=None)
    _train_workers: int | None = field(init=False, default=None)
    #: The task's bindings :meth:`progress` reads through (made once: it runs after every pass).
    _progress_api: FederationApi | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.run_dir = self.run_dir.resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        store_url = self.store or f"file://{self.run_dir / 'store'}"
        self.config = self.config.replace(store=store_url)
        self.config_path = self.config.save(self.run_dir / "config.yaml")
        self.deployment_path = self.run_dir / "deployment.json"
        self.n_clients = self.config.federation.max_clients
        keys = dev_private_keys(FIRST_CLIENT + self.n_clients)
        self.accounts: list[LocalAccount] = [account_from_key(k) for k in keys]
        self.chain = LocalChain(
            accounts=max(10, FIRST_CLIENT + self.n_clients),
            state_path=self.run_dir / "chain-state.json",
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> LocalFederation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.processes.stop_all()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self.chain.stop()

    def start_training(self, workers: int | None = None) -> int:
        """Start the worker processes in-process runs train the clients in
        (:mod:`fl_node.simulation.offload`) now, so that their start (a Python process importing
        torch and the app) overlaps the set-up instead of the first round: ``workers`` of them
        (None: :func:`default_train_workers`; 0: the clients train in the runtime's process).
        They stay up until :meth:`stop`. Returns the count."""
        count = train_workers(workers)
        if self._pool is not None and self._pool.workers != count:
            self._pool.close()
            self._pool = None
        if count and self._pool is None:
            self._pool = TrainingPool(count, SIMULATED_CLIENTS)
        self._train_workers = count
        return count

    def setup(self, say: Callable[[str], None] = print) -> int:
        """Compile, start the chain, deploy, fund, create the task; returns the task id."""
        build = compile_contracts()
        self.chain.start()
        say(f"Anvil (pid {self.chain.pid}) at {self.chain.rpc_url}")
        self.client = ChainClient(self.chain.rpc_url)
        deployer = self.accounts[DEPLOYER]
        self.deployment = deploy_suite(self.client, deployer, build, self.suite)
        self.deployment.save(self.deployment_path)
        self.client = ChainClient(self.chain.rpc_url, self.deployment)
        fed = self.config.federation
        base = BaseToken(self.client)

        def mint(account: LocalAccount, amount: float) -> None:
            base.mint(deployer, account.address, self.config.units(amount, base.decimals))

        mint(self.sponsor, fed.budget)
        mint(self.aggregator, fed.aggregator_bond)
        offers = max((c.offer_base for c in self.config.clients), default=0.0)
        per_client = (
            self.client_funds
            if self.client_funds is not None
            else fed.stake * (fed.rounds + 5) + fed.join_bond + offers
        )
        for account in self.client_accounts:
            mint(account, per_client)
        say(f"suite deployed; sponsor, aggregator and {self.n_clients} clients funded")
        ctx = TaskContext(self.config)
        store = ArtifactStore(self.config.store)
        self.task_id = create_task(self.client, self.sponsor, ctx, store, self.aggregator.address)
        say(f"task {self.task_id} created and funded ({fed.budget:g} base tokens escrowed)")
        self._write_manifest()
        return self.task_id

    @property
    def sponsor(self) -> LocalAccount:
        return self.accounts[SPONSOR]

    @property
    def aggregator(self) -> LocalAccount:
        return self.accounts[AGGREGATOR]

    @property
    def client_accounts(self) -> list[LocalAccount]:
        return self.accounts[FIRST_CLIENT : FIRST_CLIENT + self.n_clients]

    def _common_argv(self) -> list[str]:
        return [
            "--rpc", self.chain.rpc_url,
            "--deployment", str(self.deployment_path),
            "--config", str(self.config_path),
            "--task", str(self.task_id),
            "--workdir", str(self.run_dir / "work"),
        ]  # fmt: skip

    def _write_manifest(self) -> None:
        manifest = {
            "task_id": self.task_id,
            "chain_id": self.client.chain_id,
            "deployer": self.accounts[DEPLOYER].address,
            "sponsor": self.sponsor.address,
            "aggregator": self.aggregator.address,
            "clients": [
                {
                    "index": i,
                    "name": self.config.client(i).name or f"client-{i}",
                    "address": a.address,
                }
                for i, a in enumerate(self.client_accounts)
            ],
        }
        (self.run_dir / "run.json").write_text(json.dumps(manifest, indent=2))

    # -- processes ------------------------------------------------------------------------------
    def start_processes(self, aggregator: bool = True) -> None:
        """Start the clients and (unless the caller plays that role) the aggregator."""
        logs = self.run_dir / "logs"
        common = self._common_argv()
        if aggregator:
            self.processes.add(
                "aggregator",
                ["aggregate", *common, "--dev-account", str(AGGREGATOR)],
                logs / "aggregator.log",
            )
        for i in range(self.n_clients):
            argv = ["node", *common, "--dev-account", str(FIRST_CLIENT + i), "--index", str(i),
                    "--app", self.apps.get(i, SIMULATED_CLIENTS)]  # fmt: skip
            for key, value in self.node_config.get(i, {}).items():
                argv += ["--node-config", f"{key}={value!s}"]
            if self.config.client(i).behavior == "copycat":
                argv += ["--node-class", COPYCAT]
            self.processes.add(f"node-{i}", argv, logs / f"node-{i}.log")
        self.processes.start_all()

    def daemons(
        self,
        log: Callable[[str], None] | None = None,
        app_of: Callable[[int, str], ClientApp] | None = None,
    ) -> list[Steppable]:
        """The aggregator and every client as daemons of this process (the in-process runtime):
        the same daemons, engine and transactions as :meth:`start_processes`, without the
        processes. ``app_of(slot, ref)`` loads slot's client app (default: in this process)."""
        from fl_node.app.client import Context
        from fl_node.apps.digits import TASK_CONFIG
        from fl_node.federation.aggregator import AggregatorDaemon
        from fl_node.federation.node import NodeDaemon, Offering
        from fl_node.federation.setup import load_setup
        from fl_node.simulation.adversaries import CopycatNode

        api = FederationApi(self.client, self.task_id)
        store = ArtifactStore(self.config.store)
        work = self.run_dir / "work"
        say = log or (lambda _m: None)
        config_ref = str(self.config_path)
        out: list[Steppable] = []
        load = app_of or (lambda _slot, ref: ClientApp.load(ref))
        for i, account in enumerate(self.client_accounts):
            profile = self.config.client(i)
            kind = CopycatNode if profile.behavior == "copycat" else NodeDaemon
            node = kind(
                api=api,
                signer=account,
                config=self.config,
                app=load(i, self.apps.get(i, SIMULATED_CLIENTS)),
                context=Context(
                    account.address,
                    {"partition-id": i, **self.node_config.get(i, {})},
                    {TASK_CONFIG: config_ref},
                ),
                store=store,
                workdir=work,
                label=f"node-{i}",
                offering=Offering(profile.offer_tokens, profile.offer_base),
                token_name=profile.name or None,
                log=lambda m, i=i: say(f"[node-{i}] {m}"),  # type: ignore[misc]
            )
            node.ensure_setup()
            out.append(node)
        setup = load_setup(api, store, self.config, config_ref, node_id=self.aggregator.address)
        out.append(
            AggregatorDaemon(
                api=api,
                signer=self.aggregator,
                setup=setup,
                store=store,
                workdir=work,
                log=lambda m: say(f"[aggregator] {m}"),
            )
        )
        return out

    def run_in_process(
        self,
        timeout: float = 1800.0,
        on_tick: Callable[[Progress], None] | None = None,
        log: Callable[[str], None] | None = None,
        gate: Callable[[], bool] | None = None,
        jump_clock: bool = True,
        train_workers: int | None = None,
    ) -> Progress:
        """Run the federation with every role in this process: each daemon takes one step in
        turn until all are done (the in-process runtime of benchmarks and experiments); ``gate``
        decides when the aggregator may step; ``jump_clock``: skip the waits for the chain's
        clock (window ends, the next second) by moving the Anvil's clock (see
        :class:`InProcessRuntime`); ``train_workers``: worker processes the clients' training
        runs in, overlapped with the rest of their steps (see :meth:`start_training`; None:
        those started already, else :func:`default_train_workers`; 0: train in this process)."""
        asked = self._train_workers if train_workers is None else train_workers
        self.start_training(asked)
        pool = self._pool
        clock = ClientClock(self.client) if jump_clock else None
        # This process runs the Anvil: the clients' steps of a pass have their transactions
        # mined together, a block at a time (Lockstep); the aggregator's and anything sent
        # between passes (a market's trades) are mined at once, each coming back with its
        # receipt in one request.
        synchronous, self.client.sync_send = self.client.sync_send, True
        with Lockstep(AnvilMiner(self.client), reader=self.client) as together:
            app_of = partial(offloaded_app, pool, together) if pool is not None else None
            self.client.block_producer = together
            try:
                runtime = InProcessRuntime(
                    self.daemons(log, app_of), gate=gate, clock=clock, together=together
                )
                return runtime.run(lambda: self.progress(), timeout, on_tick)
            finally:
                self.fit_seconds = pool.fit_seconds() if pool is not None else {}
                self.client.sync_send = synchronous
                self.client.block_producer = None

    def progress(self) -> Progress:
        api = self._progress_api
        if api is None or api.client is not self.client or api.task_id != self.task_id:
            api = self._progress_api = FederationApi(self.client, self.task_id)
        state = api.state()
        number = state.current_round
        phase = api.round(number).phase if number else Phase.NONE
        finalized = number if phase == Phase.FINALIZED else max(0, number - 1)
        return Progress(number, Phase(phase), finalized, TaskStatus(state.status))

    def wait(
        self,
        timeout: float = 1800.0,
        on_tick: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Until every process has exited (the task is over); raises if one fails or on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            done = self.processes.check()
            progress = self.progress()
            if on_tick is not None:
                on_tick(progress)
            if done:
                if progress.status == TaskStatus.ACTIVE:
                    raise FlNodeError("every process exited but the task is still active")
                return progress
            if time.monotonic() > deadline:
                raise FlNodeError(f"the federation did not finish within {timeout:.0f} s")
            time.sleep(self.poll)
