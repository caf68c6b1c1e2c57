"""A train message sent again after its client committed (the SuperNode's process died between
the commit and the reveal) is answered with the update the client committed: the app does not
train again, and the reply carries the same arrays and update hash as the first."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ConfigRecord, Context, Message, MessageType, MetricRecord, RecordDict

from fl_node.apps.flower_digits.task import initial_arrays
from fl_node.federation.node import NodeDaemon
from fl_node.federation.protocol import FederationApi
from fl_node.flower.client import FlowerNode, SettleMod
from fl_node.flower.wire import (
    ACTION,
    DEFAULT_WEIGHT_KEY,
    REPLY_RECORD,
    ROUND,
    TASK_ID,
    TRAIN,
    array_record,
    arrays_of,
)
from fl_node.simulation.localfed import FIRST_CLIENT, LocalFederation
from tests.flower.helpers import flower_config, shared_settings

#: Messages are made here, outside a Flower run: the run's identity is played (see conftest).
pytestmark = pytest.mark.usefixtures("task_identity")


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalFederation, int]]:
    """The example task with every client seated (natively, as a join message does) and its
    first round open; client 0's native node gives its work folder up to the mod."""
    fed = LocalFederation(flower_config(), tmp_path_factory.mktemp("resent"))
    try:
        fed.setup(say=lambda _m: None)
        daemons = fed.daemons()
        nodes: list[NodeDaemon] = daemons[:-1]  # type: ignore[assignment]
        nodes[0].release()
        api = FederationApi(fed.client, fed.task_id)
        for _ in range(20):
            if api.state().current_round:
                break
            daemons[-1].step()  # the aggregator opens round 1 once the clients are seated
        yield fed, api.state().current_round
    finally:
        fed.stop()


def test_a_train_message_sent_again_after_the_commit_returns_the_committed_update(
    opened: tuple[LocalFederation, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fed, number = opened
    assert number == 1
    ref = str(fed.config_path)
    sent = initial_arrays(ref)  # round 1's parent: the task's initial model
    config = ConfigRecord({TASK_ID: fed.task_id, ROUND: number, ACTION: TRAIN})
    message = Message(
        RecordDict({"arrays": sent, "config": config}),
        dst_node_id=1,
        message_type=MessageType.TRAIN,
    )
    context = Context(
        run_id=1,
        node_id=1,
        node_config={"partition-id": 0, "fl-node-dev-account-base": FIRST_CLIENT},
        state=RecordDict(),
        run_config={
            **shared_settings(fed),
            "fl-node-task": fed.task_id,
            "fl-node-reveal": "background",
        },
    )
    trained: list[int] = []

    def app(msg: Message, _context: Context) -> Message:
        trained.append(1)
        arrays = [np.asarray(a, np.float32) + 0.01 for a in arrays_of(msg.content["arrays"])]
        content = RecordDict(
            {
                "arrays": array_record(arrays, list(msg.content["arrays"].keys())),
                "metrics": MetricRecord({DEFAULT_WEIGHT_KEY: 12}),
            }
        )
        return Message(content, reply_to=msg)

    def dies(_mod: SettleMod, node: FlowerNode, _number: int) -> None:
        node.release()  # the process dies before its reveal: nothing revealed, the lock freed

    monkeypatch.setattr(SettleMod, "_reveal_later", dies)
    mod = SettleMod(log=lambda _t: None)
    first = mod(message, context, app)
    again = mod(message, context, app)
    assert trained == [1]  # the second message did not train
    for reply in (first, again):
        assert not reply.has_error()
    hashes = [dict(r.content[REPLY_RECORD])["update-hash"] for r in (first, again)]
    assert hashes[0] == hashes[1]
    mine, theirs = (arrays_of(r.content["arrays"]) for r in (first, again))
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
    api = FederationApi(fed.client, fed.task_id)
    client = fed.client_accounts[0].address
    commitment = api.commitment(number, client)
    assert commitment.exists and not commitment.revealed
