"""The server side of a settled Flower run: a strategy wrapper that settles every round on-chain.

``SettledStrategy(inner)`` wraps one of Flower's Message-API strategies. Flower keeps its message
flow (the inner strategy samples the nodes, builds their configs, aggregates their metrics and
runs evaluation); the chain settles. The wrapper drives the native aggregator daemon
(:class:`~fl_node.federation.aggregator.AggregatorDaemon`) at the points of Flower's round, so a
Flower-run round is verified, aggregated, scored, paid, posted and finalized by the same code and
the same engine (:func:`~fl_node.federation.engine.compute_round`) as a native one, and
``fl-node audit`` checks it the same way:

* ``configure_train``: nodes that have not joined the task get a ``join`` message (their settling
  mod checks the task and takes a seat, see :mod:`fl_node.flower.client`); the previous round is
  finalized once its challenge window is over, and the next on-chain round is opened (or the one
  already open is joined); the round's on-chain parent model goes out, with the task id and the
  round in the train config;
* ``aggregate_train``: the clients committed before replying (and revealed, unless their mod
  reveals in the background). Once every committer revealed (or the reveal window ended), the
  daemon fetches the revealed updates from the store, verifies, aggregates with the inner
  strategy's deterministic twin (:mod:`fl_node.flower.twins`), scores, computes payouts and
  rewards, stores the new model and the results table and posts the model hash and the results
  root. Each reply's arrays are then encoded as the client's update and checked against its
  on-chain reveal. The twin's model is what Flower continues with; the inner strategy aggregates
  the consistent replies (for its metrics; its own arrays only serve as a cross-check, reported
  as ``fl-node.twin-max-diff``);
* after the task's last round: the round is finalized, burns are settled, and every node gets a
  ``settle`` message (its mod claims what it earned and leaves the task).

What settles a client is what it committed and revealed, with its update in the store: public
evidence that anyone can recompute. A reply whose arrays are not the revealed update (an update
changed after it was committed, by a mod placed outside the settling mod or in transit) is flagged
with its reason in the round's report and left out of Flower's side of the round (its metrics),
but it cannot change the settlement: the posted model and results come from the revealed updates
only, and an exclusion resting on a private Flower message could not be audited. A client that
commits and does not reveal is excluded from the round and burned, as natively.

Every round is recorded in ``<workdir>/flower-task<id>.json``: on-chain round, model hash, results
root, per client the settled row (included or the reason, score, payout, reward), the Flower
check, the privacy spent (with client-side DP) and its running total, and the seconds the chain
added to the round.

Limits: a round's commits close early only when every *seated* participant has committed, so an
inner strategy that samples a fraction of the nodes (or a node that stays away) makes the others
wait for the task's commit window before they can reveal. Sample every node, or set the commit
window to what a round may take.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from logging import INFO, WARNING
from pathlib import Path
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from fl_node.app.layout import ModelLayout
from fl_node.artifacts.store import ArtifactStore
from fl_node.config import TaskConfig
from fl_node.errors import ChainError, ConfigError
from fl_node.federation.aggregator import AggregatorDaemon
from fl_node.federation.engine import AppSetup
from fl_node.federation.protocol import FederationApi, Phase, TaskParams, TaskStatus, hex32
from fl_node.federation.results import RoundResults
from fl_node.federation.setup import load_setup
from fl_node.federation.storage import fetch_model, fetch_results
from fl_node.flower.settings import ServerSettings, server_settings
from fl_node.flower.twins import Twin, check_task_aggregation, twin_of
from fl_node.flower.wire import (
    ACTION,
    DEFAULT_WEIGHT_KEY,
    DP_RECORD,
    JOIN,
    REPLY_RECORD,
    ROUND,
    SETTLE,
    TASK_ID,
    TRAIN,
    WEIGHT_KEY,
    arrays_of,
    model_record,
    num_samples_of,
    single_array_record,
    update_hash,
)

#: Seconds to wait for enough SuperNodes to join before the first round.
JOIN_TIMEOUT = 600.0


def _flwr_log(level: int, text: str) -> None:
    from flwr.common import log

    log(level, "%s", text)


@dataclass
class _Chain:
    """What the strategy holds once connected."""

    api: FederationApi
    signer: LocalAccount
    config: TaskConfig
    store: ArtifactStore
    setup: AppSetup
    daemon: AggregatorDaemon
    params: TaskParams
    layout: ModelLayout


@dataclass
class FlowerCheck:
    """A reply against the chain: what Flower carried and what the client revealed."""

    node_id: int
    client: str
    carried: str = ""
    revealed: str = ""
    reason: str = ""  # "" when Flower carried exactly the revealed update
    dp: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reason


class SettledStrategy(Strategy):
    """A Flower Message-API strategy whose rounds are settled on-chain (see the module's
    documentation). ``settings`` say where the chain, the store, the task and the aggregator's key
    are (:func:`fl_node.flower.settings.server_settings`); :meth:`from_context` reads them from
    the ServerApp's run config."""

    def __init__(
        self,
        inner: Strategy,
        settings: ServerSettings,
        *,
        poll: float = 0.2,
        timeout: float = 900.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.twin: Twin = twin_of(inner)  # refused at once, before anything touches the chain
        self.inner = inner
        self.settings = settings
        self.poll = poll
        self.timeout = timeout
        self._log = log
        self._chain: _Chain | None = None
        self._grid: Grid | None = None
        self._keys: list[str] | None = None
        self.nodes: dict[int, str] = {}  # Flower node id -> client address (from its join)
        self._refused: dict[int, str] = {}
        self._rounds: dict[int, int] = {}  # Flower's server round -> on-chain round
        self._started: dict[int, float] = {}
        self._chain_seconds: dict[int, float] = {}
        self._dp_total: dict[str, dict[str, float]] = {}
        self.report: dict[str, Any] = {"rounds": [], "settle": {}}

    @classmethod
    def from_context(
        cls,
        inner: Strategy,
        context: Context,
        defaults: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> SettledStrategy:
        """Settings from the ServerApp's run config (then ``defaults``)."""
        return cls(inner, server_settings(dict(context.run_config), defaults), **kwargs)

    # -- plumbing -------------------------------------------------------------------------------
    def say(self, text: str, level: int = INFO) -> None:
        if self._log is not None:
            self._log(text)
        else:
            _flwr_log(level, f"[fl-node] {text}")

    @property
    def weight_key(self) -> str:
        return str(getattr(self.inner, "weighted_by_key", DEFAULT_WEIGHT_KEY))

    def connect(self) -> _Chain:
        """Connect to the chain and the store, check the task (config hash, aggregator key, the
        twin against the config's aggregation, the evaluator's validation data)."""
        if self._chain is not None:
            return self._chain
        s = self.settings
        client = s.connect()
        api = FederationApi(client, s.task_id)
        signer = s.signer.account(client.chain_id)
        config = s.config()
        check_task_aggregation(self.twin, config, s.task_id)
        store = s.open_store()
        setup = load_setup(api, store, config, s.task_config, s.evaluator, node_id=signer.address)
        daemon = AggregatorDaemon(
            api=api,
            signer=signer,
            setup=setup,
            store=store,
            workdir=s.workdir,
            poll=self.poll,
            log=lambda text: self.say(text),
        )
        layout = ModelLayout(tuple(setup.param_spec.shapes))
        self._chain = _Chain(api, signer, config, store, setup, daemon, daemon.params, layout)
        self.say(
            f"settling {type(self.inner).__name__} as {self.twin.describe()} on task "
            f"{s.task_id} (aggregator {signer.address})"
        )
        return self._chain

    def rounds_left(self) -> int:
        """On-chain rounds of the task not run yet (the ServerApp's ``num_rounds``)."""
        chain = self.connect()
        state = chain.api.state()
        if state.status != TaskStatus.ACTIVE:
            return 0
        current = state.current_round
        open_now = current and not chain.api.round(current).phase.ended
        return chain.params.num_rounds - current + (1 if open_now else 0)

    def summary(self) -> None:
        self.say(f"SettledStrategy: {type(self.inner).__name__} settled as {self.twin.describe()}")
        self.inner.summary()

    # -- train ----------------------------------------------------------------------------------
    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        started = time.perf_counter()
        chain = self.connect()
        self._grid = grid
        self._keys = list(arrays.keys())
        chain.layout.check(arrays_of(arrays), "the ServerApp's arrays")
        parent = self._global_model(chain)  # the current on-chain model, for the joins
        self.join_nodes(grid, parent)
        number = self.open_round()
        self._rounds[server_round] = number
        info = chain.api.round(number)
        parent = self._model_record(chain, info.parent_model_hash)
        if not _same(arrays, parent):
            self.say(f"round {number}: sending the on-chain global model, not the ServerApp's")
        config[TASK_ID] = self.settings.task_id
        config[ROUND] = number
        config[WEIGHT_KEY] = self.weight_key
        config[ACTION] = TRAIN
        messages = list(self.inner.configure_train(server_round, parent, config, grid))
        kept = []
        for message in messages:
            if message.metadata.dst_node_id in self.nodes:
                kept.append(message)
            else:
                self.say(
                    f"round {number}: node {message.metadata.dst_node_id} has no seat in the "
                    "task yet: not sampled this round",
                    WARNING,
                )
        self._chain_seconds[number] = time.perf_counter() - started
        self._started[number] = time.perf_counter()
        return kept

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        number = self._rounds[server_round]
        chain = self.connect()
        flower_seconds = time.perf_counter() - self._started.get(number, time.perf_counter())
        started = time.perf_counter()
        info = self.wait_posted(number)  # every committer revealed, or the reveal window ended
        checks = self.check_replies(number, replies)
        if info.phase == Phase.ABORTED:
            self.say(f"round {number} was aborted: nothing to aggregate", WARNING)
            return None, None
        results = fetch_results(chain.store, info.results_root, owner=chain.params.aggregator)
        model = self._model_record(chain, info.model_hash)
        consistent = [m for m in replies if self._consistent(m, checks)]
        inner_arrays, inner_metrics = None, None
        if consistent:
            try:
                inner_arrays, inner_metrics = self.inner.aggregate_train(server_round, consistent)
            except Exception as exc:  # the inner strategy's own view is informative only
                self.say(f"round {number}: the inner strategy failed to aggregate ({exc!r})")
        diff = _max_diff(inner_arrays, model)
        chain_seconds = self._chain_seconds.get(number, 0.0) + time.perf_counter() - started
        record = self.record_round(server_round, number, info, results, checks, diff)
        record["seconds"] = {"flower": flower_seconds, "chain": chain_seconds}
        if number >= chain.params.num_rounds:
            self.finish(number)
        self.save_report()
        values: dict[str, Any] = dict(inner_metrics or {})
        values.update(
            {
                "fl-node.round": number,
                "fl-node.included": sum(r.included for r in results.rows),
                "fl-node.excluded": sum(not r.included for r in results.rows),
                "fl-node.flower-mismatches": sum(not c.ok for c in checks.values()),
                "fl-node.flower-consistent": len(consistent),
                "fl-node.val-accuracy": float(results.metrics.get("val_accuracy", 0.0)),
                "fl-node.val-loss": float(results.metrics.get("val_loss", 0.0)),
                "fl-node.chain-seconds": chain_seconds,
            }
        )
        if diff is not None:
            values["fl-node.twin-max-diff"] = diff
        return model, MetricRecord(values)

    def _consistent(self, reply: Message, checks: dict[str, FlowerCheck]) -> bool:
        """Whether Flower carried exactly the update this reply's client revealed."""
        if reply.has_error():
            return False
        check = checks.get(self.nodes.get(reply.metadata.src_node_id, "").lower())
        return check is not None and check.ok

    # -- evaluate: the inner strategy's -----------------------------------------------------------
    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return self.inner.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        return self.inner.aggregate_evaluate(server_round, replies)

    # -- steps ----------------------------------------------------------------------------------
    def _model_record(self, chain: _Chain, model_hash: bytes) -> ArrayRecord:
        return model_record(
            fetch_model(chain.store, chain.api, model_hash), chain.layout, self._keys
        )

    def _global_model(self, chain: _Chain) -> ArrayRecord:
        latest = chain.api.state().latest_model_hash
        if latest == b"\x00" * 32:
            latest = chain.params.initial_model_hash
        return self._model_record(chain, latest)

    def join_nodes(self, grid: Grid, model: ArrayRecord) -> None:
        """Send a ``join`` message to every node without a seat yet; before the first round, wait
        until the task's ``min_clients`` have joined."""
        chain = self.connect()
        api, params = chain.api, chain.params
        deadline = time.monotonic() + JOIN_TIMEOUT
        while True:
            new = [n for n in grid.get_node_ids() if n not in self.nodes and n not in self._refused]
            if new:
                self._send_joins(grid, new, model)
            state = api.state()
            if state.current_round > 0 or state.participants >= params.min_clients:
                return
            if time.monotonic() > deadline:
                refused = "; ".join(f"node {n}: {r}" for n, r in self._refused.items())
                raise ChainError(
                    f"only {state.participants} of the task's {params.min_clients} clients joined "
                    f"within {JOIN_TIMEOUT:.0f} s" + (f" (refused: {refused})" if refused else "")
                )
            time.sleep(1.0)

    def _action_messages(
        self, action: str, node_ids: list[int], model: ArrayRecord
    ) -> list[Message]:
        """One train message per node carrying ``action`` (join or settle) and the model."""
        task_id = self.settings.task_id
        return [
            Message(
                RecordDict(
                    {"arrays": model, "config": ConfigRecord({TASK_ID: task_id, ACTION: action})}
                ),
                dst_node_id=node_id,
                message_type=MessageType.TRAIN,
            )
            for node_id in node_ids
        ]

    def _send_joins(self, grid: Grid, node_ids: list[int], model: ArrayRecord) -> None:
        messages = self._action_messages(JOIN, node_ids, model)
        for reply in grid.send_and_receive(messages, timeout=JOIN_TIMEOUT):
            node_id = reply.metadata.src_node_id
            if reply.has_error():
                self._refused[node_id] = str(reply.error.reason)
                self.say(f"node {node_id} did not join: {reply.error.reason}", WARNING)
                continue
            record = reply.content.config_records.get(REPLY_RECORD)
            if record is None or "client" not in record:
                self._refused[node_id] = "its ClientApp has no settling mod"
                self.say(
                    f"node {node_id} answered the join without a seat: is settle_mod the first "
                    "mod of its ClientApp?",
                    WARNING,
                )
                continue
            self.nodes[node_id] = str(record["client"])
            self.say(f"node {node_id} joined as {self.nodes[node_id]}")

    def open_round(self) -> int:
        """The on-chain round this Flower round runs in: the open one, or the next (after the
        previous one is finalized, which waits out its challenge window)."""
        chain = self.connect()
        api, daemon = chain.api, chain.daemon
        deadline = time.monotonic() + self.timeout
        waiter = api.waiter(longest=self.poll)
        while True:
            waiter.mark()
            state = api.state()
            number = state.current_round
            if state.status != TaskStatus.ACTIVE:
                raise ChainError(
                    f"task {api.task_id} is {state.status.name.lower()}: it runs no more rounds"
                )
            info = api.round(number) if number else None
            if info is not None and info.phase in (Phase.COMMIT, Phase.REVEAL):
                return number
            if (info is None or info.phase.ended) and number >= chain.params.num_rounds:
                raise ConfigError(f"task {api.task_id} has run all its {number} rounds")
            daemon.step()  # finalizes a posted round, or opens the next one
            if time.monotonic() > deadline:
                raise ChainError(f"no round of task {api.task_id} opened within {self.timeout} s")
            waiter.wait(daemon.look_until(deadline))

    def wait_posted(self, number: int) -> Any:
        """Step the aggregator until round ``number`` is posted (or ended)."""
        chain = self.connect()
        api = chain.api
        info = api.round(number)
        patience = max(0, info.post_deadline(chain.params) - api.now()) + 60
        deadline = time.monotonic() + patience
        waiter = api.waiter(longest=self.poll)
        while info.phase in (Phase.COMMIT, Phase.REVEAL):
            waiter.mark()
            chain.daemon.step()
            info = api.round(number)
            if info.phase not in (Phase.COMMIT, Phase.REVEAL):
                break
            if time.monotonic() > deadline:
                raise ChainError(f"round {number} was not posted within {patience:.0f} s")
            waiter.wait(chain.daemon.look_until(deadline))
        return info

    def check_replies(self, number: int, replies: list[Message]) -> dict[str, FlowerCheck]:
        """Each reply's arrays, encoded as the client's update, against its on-chain reveal."""
        chain = self.connect()
        reveals = chain.api.reveals(number, chain.api.round_opened_block(number) or 0)
        checks: dict[str, FlowerCheck] = {}
        for reply in replies:
            node_id = reply.metadata.src_node_id
            client = self.nodes.get(node_id, "")
            check = FlowerCheck(node_id, client)
            if reply.has_error():
                check.reason = f"the node's reply is an error: {reply.error.reason}"
                checks[client.lower() or f"node-{node_id}"] = check
                continue
            record = reply.content.config_records.get(REPLY_RECORD)
            claimed = str(record.get("client", "")) if record is not None else ""
            dp = reply.content.config_records.get(DP_RECORD)
            check.dp = {
                k: float(v) for k, v in dict(dp or {}).items() if isinstance(v, int | float)
            }
            revealed = reveals.get(client.lower())
            check.revealed = hex32(revealed.update_hash) if revealed is not None else ""
            try:
                if claimed.lower() != client.lower():
                    raise ConfigError(
                        f"the reply names client {claimed!r}, the node joined as {client}"
                    )
                _, arrays = single_array_record(reply.content, "the reply")
                metrics = list(reply.content.metric_records.values())
                samples = num_samples_of(metrics[0][self.weight_key], self.weight_key)
                carried = update_hash(chain.layout, arrays_of(arrays), number, client, samples)
                check.carried = hex32(carried)
                if revealed is None:
                    check.reason = "the client did not reveal its update on-chain"
                elif carried != revealed.update_hash:
                    check.reason = (
                        f"the update Flower carried ({check.carried[:10]}) is not the one the "
                        f"client committed and revealed ({check.revealed[:10]})"
                    )
            except (ConfigError, IndexError, KeyError) as exc:
                check.reason = f"malformed reply: {exc}"
            if check.reason:
                self.say(f"round {number}: node {node_id} ({client[:10]}): {check.reason}", WARNING)
            checks[client.lower() or f"node-{node_id}"] = check
        return checks

    def finish(self, number: int) -> None:
        """After the task's last round: finalize it (burns are settled by the daemon), then let
        every node claim and leave."""
        chain = self.connect()
        deadline = time.monotonic() + self.timeout
        while not chain.api.round(number).phase.ended:
            chain.daemon.step()
            if time.monotonic() > deadline:
                raise ChainError(f"round {number} was not finalized within {self.timeout} s")
            time.sleep(self.poll)
        chain.daemon.step()  # burns of the last round, once the task is over
        if self._grid is None or not self.nodes:
            return
        model = self._global_model(chain)
        messages = self._action_messages(SETTLE, list(self.nodes), model)
        for reply in self._grid.send_and_receive(messages, timeout=self.timeout):
            client = self.nodes.get(reply.metadata.src_node_id, "")
            if reply.has_error():
                self.report["settle"][client] = {"error": reply.error.reason}
                self.say(f"{client[:10]} could not settle: {reply.error.reason}", WARNING)
                continue
            record = reply.content.config_records.get(REPLY_RECORD)
            values: dict[str, Any] = dict(record) if record is not None else {}
            self.report["settle"][client] = values
            self.say(f"{client[:10]} settled its rounds (done: {values.get('done')!r})")

    # -- the report -----------------------------------------------------------------------------
    def record_round(
        self,
        server_round: int,
        number: int,
        info: Any,
        results: RoundResults,
        checks: dict[str, FlowerCheck],
        diff: float | None,
    ) -> dict[str, Any]:
        clients = []
        for row in results.rows:
            check = checks.get(row.client.lower())
            entry: dict[str, Any] = {
                "client": row.client,
                "node_id": check.node_id if check else None,
                "included": row.included,
                "reason": row.reason,
                "num_samples": row.num_samples,
                "score": str(row.score),
                "payout": str(row.payout),
                "reward": str(row.reward),
                "update_hash": row.update_hash,
                "flower": "no reply" if check is None else (check.reason or "ok"),
                "carried_hash": check.carried if check else "",
            }
            if check is not None and check.dp:
                total = self._dp_total.setdefault(
                    row.client.lower(), {"epsilon": 0.0, "delta": 0.0, "rounds": 0}
                )
                total["epsilon"] += check.dp.get("epsilon", 0.0)
                total["delta"] += check.dp.get("delta", 0.0)
                total["rounds"] += 1
                entry["dp"] = dict(check.dp)
                entry["dp_total"] = dict(total)  # basic composition over this client's rounds
            clients.append(entry)
        record = {
            "flower_round": server_round,
            "round": number,
            "model_hash": hex32(info.model_hash),
            "results_root": hex32(info.results_root),
            "parent_model_hash": hex32(info.parent_model_hash),
            "twin": self.twin.describe(),
            "flower_strategy": type(self.inner).__name__,
            "twin_max_diff": diff,
            "metrics": dict(results.metrics),
            "clients": clients,
            "flower_only": [
                {"client": c.client, "node_id": c.node_id, "reason": c.reason}
                for key, c in checks.items()
                if key not in {r.client.lower() for r in results.rows}
            ],
        }
        self.report["rounds"].append(record)
        return record

    @property
    def report_path(self) -> Path:
        return self.settings.workdir / f"flower-task{self.settings.task_id}.json"

    def save_report(self) -> Path:
        path = self.report_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.report, indent=1, sort_keys=True))
        tmp.replace(path)
        return path


def _same(a: ArrayRecord, b: ArrayRecord) -> bool:
    left, right = arrays_of(a), arrays_of(b)
    return len(left) == len(right) and all(
        x.shape == y.shape and np.array_equal(np.asarray(x, np.float32), y)
        for x, y in zip(left, right, strict=False)
    )


def _max_diff(a: ArrayRecord | None, b: ArrayRecord) -> float | None:
    """Largest absolute difference between Flower's own aggregate and the twin's."""
    if a is None:
        return None
    left, right = arrays_of(a), arrays_of(b)
    if len(left) != len(right) or any(x.shape != y.shape for x, y in zip(left, right, strict=True)):
        return None
    return float(
        max(np.max(np.abs(np.asarray(x, np.float64) - y)) for x, y in zip(left, right, strict=True))
    )
