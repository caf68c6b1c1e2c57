"""Flower federations settled on-chain.

An existing Flower app earns tokens, stakes on its updates and is audited with a few lines:

* client side, the settling mod first in the ClientApp's mods (:mod:`fl_node.flower.client`)::

      from fl_node.flower import settle_mod
      app = ClientApp(mods=[settle_mod])

* server side, the Flower strategy wrapped (:mod:`fl_node.flower.server`)::

      from fl_node.flower import SettledStrategy
      strategy = SettledStrategy.from_context(FedAvg(...), context)
      strategy.start(grid=grid, initial_arrays=arrays, num_rounds=strategy.rounds_left())

The task's config names the strategy's deterministic twin (:mod:`fl_node.flower.twins`), so
``fl-node audit`` recomputes a Flower-run round exactly as a native one. Client-side differential
privacy: :class:`LocalDp` (Flower's ``LocalDpMod`` on train replies, its budget reported per
round). A NumPyClient's ``client_fn`` becomes a Message-API ClientApp with
:func:`numpy_client_app`.

This package needs Flower (``flwr[simulation]==1.41.0``); the rest of fl-node does not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: What each name is imported from, on first use: a SuperNode's ClientApp process (one per
#: message) then loads the client side only, not the aggregator's engine and its torch.
_EXPORTS = {
    "numpy_client_app": "fl_node.flower.apps",
    "FlowerNode": "fl_node.flower.client",
    "SettleMod": "fl_node.flower.client",
    "settle_mod": "fl_node.flower.client",
    "LocalDp": "fl_node.flower.dp",
    "dp_from_config": "fl_node.flower.dp",
    "run_config_dp": "fl_node.flower.dp",
    "SettledStrategy": "fl_node.flower.server",
    "node_settings": "fl_node.flower.settings",
    "server_settings": "fl_node.flower.settings",
    "SUPPORTED": "fl_node.flower.twins",
    "Twin": "fl_node.flower.twins",
    "check_task_aggregation": "fl_node.flower.twins",
    "twin_of": "fl_node.flower.twins",
}

if TYPE_CHECKING:
    from fl_node.flower.apps import numpy_client_app
    from fl_node.flower.client import FlowerNode, SettleMod, settle_mod
    from fl_node.flower.dp import LocalDp, dp_from_config, run_config_dp
    from fl_node.flower.server import SettledStrategy
    from fl_node.flower.settings import node_settings, server_settings
    from fl_node.flower.twins import SUPPORTED, Twin, check_task_aggregation, twin_of


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SUPPORTED",
    "FlowerNode",
    "LocalDp",
    "SettleMod",
    "SettledStrategy",
    "Twin",
    "check_task_aggregation",
    "dp_from_config",
    "node_settings",
    "numpy_client_app",
    "run_config_dp",
    "server_settings",
    "settle_mod",
    "twin_of",
]
