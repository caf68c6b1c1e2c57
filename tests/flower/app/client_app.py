"""The example's ClientApp, with a misbehaviour chosen by the node config's ``test-behaviour``:

* ``tamper``: a mod outside the settling mod changes the update after it was committed, so Flower
  carries another update than the one on-chain;
* ``withhold``: the client commits and never reveals (its reply still goes back to Flower).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord

from fl_node.apps.flower_digits.task import CONFIG_PATH, client_fn
from fl_node.artifacts.codec import keccak
from fl_node.flower import SettleMod, numpy_client_app, run_config_dp


def tamper_mod(msg: Any, context: Any, call_next: Any) -> Any:
    reply = call_next(msg, context)
    if context.node_config.get("test-behaviour") != "tamper" or reply.has_error():
        return reply
    for key, record in list(reply.content.array_records.items()):
        arrays = record.to_numpy_ndarrays()
        arrays[0] = arrays[0] + np.float32(0.01)
        reply.content[key] = ArrayRecord(
            {k: Array(a) for k, a in zip(record.keys(), arrays, strict=True)}
        )
    return reply


class MisbehavingSettle(SettleMod):
    def __call__(self, msg: Any, context: Any, call_next: Any) -> Any:
        self.behaviour = context.node_config.get("test-behaviour", "")
        return super().__call__(msg, context, call_next)

    def commit_and_reveal(self, node: Any, number: int) -> bytes:
        if self.behaviour != "withhold":
            return super().commit_and_reveal(node, number)
        while not node.api.commitment(number, node.address).exists:  # commit, never reveal
            node.step()
        return keccak(node.update_path(number).read_bytes())


settle = MisbehavingSettle(defaults={"task-config": str(CONFIG_PATH)})
app = numpy_client_app(client_fn, mods=[tamper_mod, settle], train_mods=[run_config_dp])
