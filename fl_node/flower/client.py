"""The client side of a settled Flower run: a Flower mod that stakes on, commits, uploads and
reveals the update the participant's unchanged ``ClientApp`` returns.

Put it first (outermost) in the ClientApp's mods, so it sees the reply exactly as Flower will
carry it (after any other mod, such as local differential privacy)::

    from fl_node.flower import settle_mod
    app = ClientApp(mods=[settle_mod])                         # Message API apps
    app = numpy_client_app(client_fn, mods=[settle_mod])       # a NumPyClient's client_fn

It acts only on train messages of a settled run (their config carries ``fl-node.task-id``); every
other message passes through untouched, so the same app also runs in a plain Flower federation.
The mod is a thin shell around the native participant daemon (:class:`~fl_node.federation.node.
NodeDaemon`), so the join checks, stakes, commitment salts, uploads, reveals, claims and their
retries are the native node's own:

* ``join`` (sent by the settled strategy before the first round): check the task's on-chain config
  hash against this node's task config and the model layout against the task's model spec, then
  register the client, take the seat (join bond) and deposit stake, exactly as ``fl-node node``;
* ``train``: check that the global model Flower delivered is the round's on-chain parent model,
  let the app train (``call_next``), encode the reply's arrays as the native node encodes a
  ``fit`` result, commit its salted hash with the round's stake, wait until the reveal phase opens
  (at once when every seated participant has committed), upload the update to the store under
  this client's prefix and reveal it itself (so an aggregator cannot withhold a client's reveal),
  and only then return the reply, with the update hash in its ``fl-node`` ConfigRecord. The wait
  keeps the update from the aggregator until no one can commit any more. The same step settles,
  claims and reclaims every round that ended before this one. (On Flower's simulation engine,
  ``fl-node-reveal = "background"`` replies once committed and reveals from a thread: see
  :data:`REVEAL`);
* ``settle`` (sent by the settled strategy after the task's last round): claim or settle every
  finished round, collect credits and leave the task (the join bond comes back).

Claims are therefore made on the next message after a round is finalized, and after the last round
on the strategy's settle message. A client that missed them runs the native node, ``fl-node node``
with the same key, task and app, which settles and claims what is left and leaves the task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from logging import INFO
from typing import Any

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MessageType, MetricRecord, RecordDict

from fl_node.app.client import ClientApp as NodeApp
from fl_node.app.client import Context as NodeContext
from fl_node.artifacts.codec import decode_weights, keccak
from fl_node.errors import ChainError, ConfigError
from fl_node.federation.node import NodeDaemon
from fl_node.federation.protocol import ClientView, Phase, RoundState, hex32
from fl_node.federation.storage import fetch_model
from fl_node.flower.sessions import process_sessions
from fl_node.flower.settings import ChainSettings, node_settings, pick
from fl_node.flower.watch import RoundWatches
from fl_node.flower.wire import (
    ACTION,
    DEFAULT_WEIGHT_KEY,
    JOIN,
    REPLY_RECORD,
    ROUND,
    SETTLE,
    TASK_ID,
    TRAIN,
    WEIGHT_KEY,
    array_record,
    arrays_of,
    encode_update,
    num_samples_of,
    settled_config,
    single_array_record,
)

#: Seconds a settle message waits for the last rounds' claims.
SETTLE_TIMEOUT = 60.0
#: When the mod reveals (setting ``fl-node-reveal``): ``wait`` (default) holds the reply until
#: this client has revealed, so nobody (the aggregator included) sees the update before commits
#: close; ``background`` replies once committed and reveals from a thread of the ClientApp's
#: process. The simulation engine needs it when it runs fewer messages at once than there are
#: clients (one per Ray actor: :mod:`fl_node.flower.engine`): waiting clients would hold every
#: actor while the others cannot commit. It needs a long-lived ClientApp process (a
#: simulation's Ray actor, not a SuperNode's per-message process), and it shows updates to the
#: server before commits close: for simulations, where one party plays every role. The
#: reveals a process has waiting share one reader of their round (:mod:`fl_node.flower.watch`).
REVEAL, WAIT, BACKGROUND = "fl-node-reveal", "wait", "background"


def _flwr_log(level: int, text: str) -> None:
    from flwr.common import log

    log(level, "%s", text)


class _LayoutOnly:
    """What the native daemon asks an app for before it stakes: the model's arrays (their
    layout is checked against the task's on-chain model spec). Training happens in Flower."""

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.arrays = [np.array(a, copy=True) for a in arrays]

    def get_parameters(self, config: Mapping[str, Any]) -> list[np.ndarray]:
        return [np.array(a, copy=True) for a in self.arrays]

    def fit(self, *_args: Any) -> Any:
        raise ConfigError("a settled Flower client trains in its Flower app, not in the node")

    def evaluate(self, *_args: Any) -> Any:
        raise ConfigError("a settled Flower client evaluates in its Flower app, not in the node")


@dataclass
class FlowerNode(NodeDaemon):
    """The native participant daemon, whose update of a round is the one its Flower app returned
    (given with :meth:`provide`) instead of its own call of the app's ``fit``. ``watches``: the
    round watches its reveal waits on (its process's, shared with the other nodes it runs)."""

    watches: RoundWatches = field(default_factory=RoundWatches)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._updates: dict[int, bytes] = {}

    def provide(self, number: int, blob: bytes) -> None:
        """The update of round ``number`` (FLW1 bytes): what this node commits and reveals. A
        copy kept in the work folder from an earlier, uncommitted attempt is replaced."""
        self.update_path(number).unlink(missing_ok=True)
        self._updates[number] = blob

    def make_update(self, number: int, parent_blob: bytes) -> bytes:
        blob = self._updates.get(number)
        if blob is None:
            raise ConfigError(
                f"round {number}: no update from the Flower app yet (the node commits only what "
                "the app returned for this round)"
            )
        return blob


class SettleMod:
    """The settling mod (see the module's documentation); ``defaults`` are settings used when
    neither the node config nor the run config gives them (see :mod:`fl_node.flower.settings`)."""

    def __init__(
        self,
        defaults: Mapping[str, Any] | None = None,
        *,
        poll: float = 0.2,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.defaults = dict(defaults or {})
        self.poll = poll
        self.log = log
        self.sessions = process_sessions()

    def __repr__(self) -> str:
        return f"SettleMod(defaults={self.defaults!r})"

    # -- dispatch -------------------------------------------------------------------------------
    def __call__(
        self, msg: Message, context: Context, call_next: Callable[[Message, Context], Message]
    ) -> Message:
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, context)
        config = settled_config(msg.content)
        if config is None:  # a plain Flower run: nothing to settle
            return call_next(msg, context)
        settings = node_settings(dict(context.node_config), dict(context.run_config), self.defaults)
        task_id = int(str(config[TASK_ID]))
        action = str(config.get(ACTION, TRAIN))
        if action == JOIN:
            return self.join(msg, settings, task_id)
        if action == SETTLE:
            return self.settle(msg, settings, task_id)
        if action != TRAIN:
            raise ConfigError(f"unknown fl-node action {action!r} (join, train or settle)")
        return self.train(msg, context, call_next, settings, task_id, config)

    def _say(self, who: str) -> Callable[[str], None]:
        if self.log is not None:
            return self.log
        return lambda text: _flwr_log(INFO, f"[fl-node {who[:10]}] {text}")

    @contextmanager
    def node(
        self, settings: ChainSettings, task_id: int, arrays: Sequence[np.ndarray]
    ) -> Iterator[FlowerNode]:
        """The native daemon of this client on ``task_id``, for one message: its checks of the
        task's config hash and of the model layout (``arrays``) run on construction. What does
        not change between messages comes from this process's :class:`Sessions`."""
        session, signer = self.sessions.get(settings)
        node = FlowerNode(
            api=session.api(task_id),
            signer=signer,
            config=session.config,
            app=NodeApp(lambda _c: _LayoutOnly(arrays), name="the Flower app"),
            context=NodeContext(signer.address, run_id=task_id),
            store=session.store,
            workdir=settings.workdir,
            label=f"flower-{signer.address[2:10].lower()}",
            poll=self.poll,
            log=self._say(signer.address),
            watches=session.watches,
        )
        try:
            yield node
        finally:
            node.release()

    @staticmethod
    def reply(msg: Message, values: Mapping[str, Any]) -> Message:
        return Message(RecordDict({REPLY_RECORD: ConfigRecord(dict(values))}), reply_to=msg)

    # -- actions --------------------------------------------------------------------------------
    def join(self, msg: Message, settings: ChainSettings, task_id: int) -> Message:
        """Check the task, register, take the seat and deposit stake (as ``fl-node node``)."""
        _, record = single_array_record(msg.content, "the join message")
        with self.node(settings, task_id, arrays_of(record)) as node:
            node.ensure_setup()
            return self.reply(msg, {"client": node.address, "joined": True})

    def settle(self, msg: Message, settings: ChainSettings, task_id: int) -> Message:
        """Claim, settle or reclaim every ended round; leave the task once it is over."""
        _, record = single_array_record(msg.content, "the settle message")
        with self.node(settings, task_id, arrays_of(record)) as node:
            deadline = time.monotonic() + SETTLE_TIMEOUT
            done = False
            while not done and time.monotonic() < deadline:
                done = node.step()
                if not done:
                    time.sleep(self.poll)
            balance = node.api.base_balance(node.address)
            return self.reply(msg, {"client": node.address, "done": done, "balance": str(balance)})

    def train(
        self,
        msg: Message,
        context: Context,
        call_next: Callable[[Message, Context], Message],
        settings: ChainSettings,
        task_id: int,
        config: ConfigRecord,
    ) -> Message:
        number = int(str(config[ROUND]))
        weight_key = str(config.get(WEIGHT_KEY, DEFAULT_WEIGHT_KEY))
        _, sent = single_array_record(msg.content, "the train message")
        sent_arrays = arrays_of(sent)
        background = self.reveal_mode(context) == BACKGROUND
        with ExitStack() as session:
            node = session.enter_context(self.node(settings, task_id, sent_arrays))
            node.expect(number)
            view = node.api.client_view(node.address, [number])
            self.check_round(node, number, sent_arrays, view)
            committed = view.rounds[number][1].exists
            reply = self.update_reply(
                node, number, weight_key, msg, context, call_next, sent, committed
            )
            if reply.has_error():
                return reply
            if background:
                digest = self.commit(node, number)
                session.pop_all()  # the revealing thread owns the node (and its lock) now
                threading.Thread(
                    target=self._reveal_later, args=(node, number), daemon=True
                ).start()
            else:
                digest = self.commit_and_reveal(node, number)
            reply.content[REPLY_RECORD] = ConfigRecord(
                {
                    "client": node.address,
                    "task-id": task_id,
                    "round": number,
                    "update-hash": hex32(digest),
                }
            )
            return reply

    def reveal_mode(self, context: Context) -> str:
        mode = str(
            pick(REVEAL, context.node_config, context.run_config, self.defaults, default=WAIT)
        )
        if mode not in (WAIT, BACKGROUND):
            raise ConfigError(f"{REVEAL} {mode!r}: one of {WAIT!r}, {BACKGROUND!r}")
        return mode

    def _reveal_later(self, node: FlowerNode, number: int) -> None:
        try:
            self.commit_and_reveal(node, number)
        except Exception as exc:  # the thread's only report is the log
            node.log(f"round {number}: the reveal failed: {exc}")
        finally:
            node.release()

    def commit(self, node: FlowerNode, number: int) -> bytes:
        """Step the native daemon until this client's update of round ``number`` is committed;
        returns the update hash (revealed later)."""
        while not node.committed(number):
            node.step()
            if node.committed(number):
                break
            info, now = self._round_read(node, number)
            if info.phase != Phase.COMMIT or now > info.commit_deadline:
                raise ChainError(f"round {number}: commits closed before this client committed")
            time.sleep(self.poll)
        return keccak(node.update_path(number).read_bytes())

    @staticmethod
    def _round_read(node: FlowerNode, number: int) -> tuple[RoundState, int]:
        """Round ``number`` and the chain's time as the node's last step read them (read now if
        it did not)."""
        seen = node.view.rounds.get(number) if node.view is not None else None
        if node.view is None or seen is None:
            return node.api.round(number), node.api.now()
        return seen[0], int(node.view.exact)

    # -- the steps of a train message -----------------------------------------------------------
    @staticmethod
    def check_round(
        node: FlowerNode, number: int, sent: Sequence[np.ndarray], view: ClientView
    ) -> None:
        """The round takes commits, and Flower delivered its on-chain parent model (``view``:
        the task and the round as just read)."""
        api, state = node.api, view.state
        if state.current_round != number:
            raise ChainError(
                f"the server asks for round {number}, the chain's current round is "
                f"{state.current_round}"
            )
        info, _ = view.rounds[number]
        if info.phase not in (Phase.COMMIT, Phase.REVEAL):
            raise ChainError(f"round {number} is {info.phase.name.lower()}: it takes no updates")
        weights, _ = decode_weights(
            fetch_model(node.store, api, info.parent_model_hash), expected=node.layout.param_spec
        )
        expected = node.layout.from_named(weights)
        for i, (mine, theirs) in enumerate(zip(expected, sent, strict=True)):
            if not np.array_equal(mine, np.asarray(theirs, dtype=np.float32)):
                raise ChainError(
                    f"round {number}: the global model Flower delivered differs from the round's "
                    f"on-chain parent model {hex32(info.parent_model_hash)[:10]} (array {i}): "
                    "refusing to train on a model the chain does not know"
                )

    def update_reply(
        self,
        node: FlowerNode,
        number: int,
        weight_key: str,
        msg: Message,
        context: Context,
        call_next: Callable[[Message, Context], Message],
        sent: Any,
        committed: bool,
    ) -> Message:
        """The app's reply, its update handed to the node to commit. A client that committed
        already (``committed``: a message sent again after a crash) reveals what it committed:
        the reply is rebuilt from the update it kept."""
        if committed:
            path = node.update_path(number)
            if not path.is_file():
                raise ChainError(
                    f"round {number}: this client committed already, and its update is not in "
                    f"{path.parent}: it cannot be revealed"
                )
            return self.kept_reply(node, msg, path.read_bytes(), list(sent.keys()), weight_key)
        reply = call_next(msg, context)
        if reply.has_error():
            return reply
        _, record = single_array_record(reply.content, "the Flower app's reply")
        arrays = arrays_of(record)
        node.layout.check(arrays, "the arrays the Flower app returned")
        metrics = list(reply.content.metric_records.values())
        if len(metrics) != 1 or weight_key not in metrics[0]:
            raise ConfigError(
                f"the Flower app's reply needs one MetricRecord with {weight_key!r} (the number "
                "of training examples, which weights the update)"
            )
        samples = num_samples_of(metrics[0][weight_key], weight_key)
        node.provide(number, encode_update(node.layout, arrays, number, node.address, samples))
        return reply

    @staticmethod
    def kept_reply(
        node: FlowerNode, msg: Message, blob: bytes, keys: list[str], weight_key: str
    ) -> Message:
        weights, meta = decode_weights(blob, expected=node.layout.param_spec)
        arrays = node.layout.from_named(weights)
        content = RecordDict(
            {
                "arrays": array_record(arrays, keys),
                "metrics": MetricRecord({weight_key: int(meta["num_samples"])}),
            }
        )
        return Message(content, reply_to=msg)

    def commit_and_reveal(self, node: FlowerNode, number: int) -> bytes:
        """Step the native daemon until this client's update of round ``number`` is committed and
        revealed; returns the revealed update hash. While the others commit, it waits for their
        commit events and the round's state read after each (a full step reads much more), from
        the process's :class:`~fl_node.flower.watch.RoundWatch` of the round: one thread reads for
        all of the process's clients waiting on it (an actor of the simulation engine runs many).
        """
        api = node.api
        self.commit(node, number)
        info, now = self._round_read(node, number)
        participants = node.view.state.participants if node.view else api.state().participants
        # bounded by the chain's own deadlines: the reveal window's end, plus a margin
        patience = max(0, info.reveal_end(node.params) - now) + 60
        deadline = time.monotonic() + patience
        watch = node.watches.of(api, number)  # woken by the others' commits
        until: float | None = None
        version: int | None = None
        while True:
            reading = watch.next(version, time.time() if until is None else until, self.poll)
            version, info = reading.version, reading.info
            if info.phase not in (Phase.COMMIT, Phase.REVEAL):
                raise ChainError(
                    f"round {number} is {info.phase.name.lower()} and this client's reveal did "
                    "not go through"
                )
            opened = info.phase == Phase.REVEAL or (
                info.phase == Phase.COMMIT
                and (info.commits >= participants or time.time() > info.commit_deadline)
            )
            if opened:
                node.step()  # reveals (uploading first), settles rounds that ended before
                if node.revealed(number):
                    return keccak(node.update_path(number).read_bytes())
            if time.monotonic() > deadline:
                raise ChainError(f"round {number}: no reveal within {patience:.0f} s")
            # until the next commit is mined, or the commit window ends (reveals open then); a
            # reveal tried and not through yet is tried again after one poll at most
            ahead = info.commit_deadline + 1 - time.time()
            until = time.time() + (ahead if not opened and ahead > 0 else self.poll)


#: The settling mod, configured entirely by the SuperNode's node config and the run config.
settle_mod = SettleMod()

__all__ = ["FlowerNode", "SettleMod", "settle_mod"]
