"""The pieces of the Flower integration that need no chain: the strategy twins (and the refusal
of strategies without one), the update encoding (the native node's bytes), the NumPyClient
adapter and the loader of ``fl-node node --app``, the settling mod's pass-through, local DP."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.serverapp.strategy import (
    Bulyan,
    FedAdam,
    FedAvg,
    FedAvgM,
    FedMedian,
    FedProx,
    FedTrimmedAvg,
    FedYogi,
    Krum,
    MultiKrum,
)

from fl_node.aggregation import make_strategy
from fl_node.app.client import ClientApp as NodeApp
from fl_node.app.client import Context as NodeContext
from fl_node.app.layout import ModelLayout
from fl_node.errors import ConfigError
from fl_node.federation.node import update_blob
from fl_node.flower import LocalDp, SettleMod, numpy_client_app, twin_of
from fl_node.flower.dp import dp_from_config
from fl_node.flower.twins import check_task_aggregation
from fl_node.flower.wire import DP_RECORD, TASK_ID, array_record, encode_update
from tests.flower.helpers import flower_config

#: Messages are made here, outside a Flower run: the run's identity is played (see conftest).
pytestmark = pytest.mark.usefixtures("task_identity")


# -- twins ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("strategy", "rule"),
    [
        (FedAvg(), "FedAvg(weighting='samples')"),
        (FedProx(proximal_mu=0.1), "FedAvg(weighting='samples')"),
        (FedMedian(), "Median()"),
        (FedTrimmedAvg(beta=0.25), "TrimmedMean(trim=0.25)"),
        (Krum(num_malicious_nodes=1), "Krum(f=1, m=1)"),
        (MultiKrum(num_malicious_nodes=2, num_nodes_to_select=3), "Krum(f=2, m=3)"),
    ],
)
def test_each_supported_strategy_has_its_deterministic_twin(strategy: Any, rule: str) -> None:
    twin = twin_of(strategy)
    assert repr(make_strategy(twin.strategy, twin.weighting, **twin.params)) == rule
    assert twin.flower == type(strategy).__name__


@pytest.mark.parametrize(
    "strategy", [FedAdam(), FedYogi(), FedAvgM(), Bulyan(num_malicious_nodes=0)]
)
def test_a_strategy_without_a_twin_is_refused_naming_the_supported_ones(strategy: Any) -> None:
    with pytest.raises(ConfigError) as err:
        twin_of(strategy)
    text = str(err.value)
    assert type(strategy).__name__ in text and "no deterministic twin" in text
    for name in ("FedAvg", "FedMedian", "FedTrimmedAvg(beta)", "Krum", "MultiKrum"):
        assert name in text


def test_a_subclass_that_aggregates_its_own_way_is_refused() -> None:
    class Mine(FedAvg):
        def aggregate_train(self, server_round: int, replies: Any) -> Any:
            return None, None

    class Sampling(FedMedian):  # only samples differently: still FedMedian's aggregation
        pass

    with pytest.raises(ConfigError, match="Mine has no deterministic twin"):
        twin_of(Mine())
    assert twin_of(Sampling()).strategy == "median"


def test_the_task_config_must_record_the_twin() -> None:
    config = flower_config()  # fedavg by samples
    check_task_aggregation(twin_of(FedAvg()), config, 1)
    with pytest.raises(ConfigError) as err:
        check_task_aggregation(twin_of(FedTrimmedAvg(beta=0.2)), config, 1)
    assert "aggregates with fedavg(weighting=samples)" in str(err.value)
    assert "{'strategy': 'trimmed_mean', 'params': {'trim': 0.2}}" in str(err.value)
    krum = config.replace(aggregation=config.aggregation.__class__(strategy="krum"))
    check_task_aggregation(twin_of(Krum(num_malicious_nodes=1)), krum)  # defaults f=1, m=1


# -- the update's bytes ---------------------------------------------------------------------------
class _Fixed:
    """A NumPyClient whose fit returns fixed arrays."""

    def __init__(self, out: list[np.ndarray], count: int = 7):
        self.out, self.count = out, count

    def get_parameters(self, config: Any) -> list[np.ndarray]:
        return [np.zeros_like(a) for a in self.out]

    def fit(self, parameters: Any, config: Any) -> Any:
        return [a.copy() for a in self.out], self.count, {"loss": 0.5}

    def evaluate(self, parameters: Any, config: Any) -> Any:
        return 0.25, self.count, {"accuracy": 0.75}


def test_an_update_flower_carries_is_encoded_as_the_native_node_encodes_it() -> None:
    rng = np.random.default_rng(0)
    out = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float64)]
    layout = ModelLayout.of(out)
    app = NodeApp(lambda _c: _Fixed(out), name="fixed")
    parent = encode_update(layout, [np.zeros_like(a) for a in out], 0, "0x" + "11" * 20, 1)
    native = update_blob(app, NodeContext("0xAb"), layout, 3, parent, "0x" + "Ab" * 20)
    assert encode_update(layout, out, 3, "0x" + "AB" * 20, 7) == native


# -- the NumPyClient adapter and fl-node node --app ---------------------------------------------
def _message(kind: str, arrays: list[np.ndarray], config: dict[str, Any]) -> Message:
    content = RecordDict(
        {"arrays": array_record(arrays, ["w", "b"]), "config": ConfigRecord(config)}
    )
    return Message(content, dst_node_id=1, message_type=kind)


def _context(node_config: dict[str, Any] | None = None) -> Context:
    return Context(run_id=1, node_id=1, node_config=node_config or {}, state=RecordDict(),
                   run_config={})  # fmt: skip


def test_a_numpy_client_runs_behind_the_message_api() -> None:
    out = [np.ones((2, 2), np.float32), np.full(2, 2.0, np.float32)]
    seen: dict[str, Any] = {}

    class Spy(_Fixed):
        def fit(self, parameters: Any, config: Any) -> Any:
            seen.update(config)
            return super().fit(parameters, config)

    app = numpy_client_app(lambda _c: Spy(out))
    msg = _message(MessageType.TRAIN, [np.zeros((2, 2)), np.zeros(2)], {"server-round": 4})
    reply = app(msg, _context())
    arrays = reply.content["arrays"]
    assert list(arrays.keys()) == ["w", "b"]  # the keys the server sent
    assert all(np.array_equal(a, b) for a, b in zip(arrays.to_numpy_ndarrays(), out, strict=True))
    assert dict(reply.content["metrics"]) == {"loss": 0.5, "num-examples": 7}
    assert seen["server_round"] == 4
    settled = _message(MessageType.TRAIN, [np.zeros((2, 2)), np.zeros(2)],
                       {"server-round": 1, TASK_ID: 3, "fl-node.round": 9})  # fmt: skip
    app(settled, _context())
    assert seen["server_round"] == 9  # the on-chain round, as a native node passes it
    evaluated = app(_message(MessageType.EVALUATE, out, {}), _context())
    assert dict(evaluated.content["metrics"]) == {"accuracy": 0.75, "loss": 0.25, "num-examples": 7}


def test_the_example_client_app_loads_unchanged_in_fl_node_node() -> None:
    from fl_node.apps.digits import DigitsClient

    app = NodeApp.load("fl_node.apps.flower_digits.client_app:app")  # the node's loader
    context = NodeContext("0xAb", node_config={"partition-id": 1})  # as fl-node node --index 1
    client = app.client(context)
    assert isinstance(client, DigitsClient) and client.index == 1
    assert len(client.get_parameters({})) == 4  # the example task's MLP


def test_the_settling_mod_lets_a_plain_flower_run_through() -> None:
    calls = []

    def app(msg: Message, context: Context) -> Message:
        calls.append(msg.metadata.message_type)
        return Message(RecordDict(), reply_to=msg)

    mod = SettleMod()  # no settings at all: a plain run must not need any
    for kind in (MessageType.TRAIN, MessageType.EVALUATE):
        mod(_message(kind, [np.zeros(1), np.zeros(1)], {"server-round": 1}), _context(), app)
    assert calls == ["train", "evaluate"]


# -- local DP -------------------------------------------------------------------------------------
def test_local_dp_noises_train_replies_only_and_records_the_budget() -> None:
    out = [np.ones((2, 2), np.float32), np.ones(2, np.float32)]
    dp = LocalDp(clipping_norm=1.0, sensitivity=0.1, epsilon=2.0, delta=1e-5)
    app = numpy_client_app(lambda _c: _Fixed(out), train_mods=[dp])
    sent = [np.zeros((2, 2), np.float32), np.zeros(2, np.float32)]
    reply = app(_message(MessageType.TRAIN, sent, {}), _context())
    noised = reply.content["arrays"].to_numpy_ndarrays()
    assert not np.allclose(noised[0], out[0])  # clipped to norm 1, then noised
    budget = dict(reply.content[DP_RECORD])
    assert budget["epsilon"] == 2.0 and budget["delta"] == 1e-5
    assert budget["noise-std"] == pytest.approx(0.1 * np.sqrt(2 * np.log(1.25e5)) / 2.0)
    evaluated = app(_message(MessageType.EVALUATE, out, {}), _context())
    assert DP_RECORD not in evaluated.content.config_records
    assert dp_from_config({"dp-epsilon": 0.0}) is None
    assert dp_from_config({"dp-epsilon": 3, "dp-delta": 1e-6}).epsilon == 3.0
    with pytest.raises(ConfigError, match="delta"):
        LocalDp(1.0, 1.0, 1.0, 0.0)


def test_an_update_that_is_not_a_model_of_the_task_is_refused() -> None:
    with pytest.raises(ConfigError):
        ModelLayout.of([np.zeros((2, 2))]).check([np.zeros((3, 2))], "the Flower app's arrays")
    _ = ArrayRecord  # (imported for the type of records above)


# -- the example's simulation command -------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--nodes", "0", "argument --nodes: 0 must be >= 1"),
        ("--actors", "0", "argument --actors: 0 must be >= 1"),
        ("--task", "0", "argument --task: 0 must be >= 1"),
        ("--client-dev-account-base", "-1", "argument --client-dev-account-base"),
    ],
)
def test_the_example_simulation_refuses_bad_counts_clearly(
    option: str, value: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from fl_node.apps.flower_digits.simulation import main

    argv = ["--task", "1", "--store", "memory://x", option, value]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err
