"""Client-side differential privacy through Flower's own DP mod, with the budget on record.

:class:`LocalDp` applies Flower's ``LocalDpMod`` (clip the update to ``clipping_norm``, then add
Gaussian noise of standard deviation ``sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon``: an
(epsilon, delta)-DP release of the update per round) to train replies only (Flower's mod would
reject evaluate replies, which carry no arrays), and records what the round spent in the reply's
``fl-node.dp`` ConfigRecord. The settled strategy reports it per round and per client, with the
running total by basic composition (k rounds: k * epsilon, k * delta).

Place it inside the settling mod (after it in the mods list), so the update committed on-chain,
scored and audited is the noised one that Flower carries::

    app = numpy_client_app(client_fn, mods=[settle_mod], train_mods=[LocalDp(1.0, 1.0, 2.0, 1e-5)])

:data:`run_config_dp` reads its settings from the run config at each message (``dp-epsilon`` 0:
off), so one app runs with and without DP.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flwr.app import ConfigRecord, Context, Message, MessageType

from fl_node.errors import ConfigError
from fl_node.flower.wire import ACTION, DP_RECORD, TRAIN, settled_config

DP_KEYS = ("dp-clipping-norm", "dp-sensitivity", "dp-epsilon", "dp-delta")


@dataclass(frozen=True)
class LocalDp:
    clipping_norm: float
    sensitivity: float
    epsilon: float
    delta: float

    def __post_init__(self) -> None:
        if not self.clipping_norm > 0:
            raise ConfigError(f"dp: clipping_norm must be > 0, got {self.clipping_norm}")
        if not self.sensitivity > 0:
            raise ConfigError(f"dp: sensitivity must be > 0, got {self.sensitivity}")
        if not self.epsilon > 0:
            raise ConfigError(f"dp: epsilon must be > 0, got {self.epsilon}")
        if not 0 < self.delta < 1:
            raise ConfigError(f"dp: delta must be within (0, 1), got {self.delta}")

    @property
    def noise_std(self) -> float:
        """The Gaussian mechanism's standard deviation (as Flower's LocalDpMod computes it)."""
        return self.sensitivity * math.sqrt(2 * math.log(1.25 / self.delta)) / self.epsilon

    def budget(self) -> dict[str, Any]:
        return {
            "epsilon": float(self.epsilon),
            "delta": float(self.delta),
            "clipping-norm": float(self.clipping_norm),
            "sensitivity": float(self.sensitivity),
            "noise-std": float(self.noise_std),
        }

    def __call__(
        self, msg: Message, context: Context, call_next: Callable[[Message, Context], Message]
    ) -> Message:
        if msg.metadata.message_type != MessageType.TRAIN or not _is_training(msg):
            return call_next(msg, context)
        from flwr.clientapp.mod import LocalDpMod

        mod = LocalDpMod(self.clipping_norm, self.sensitivity, self.epsilon, self.delta)
        reply = mod(msg, context, call_next)
        if not reply.has_error():
            reply.content[DP_RECORD] = ConfigRecord(self.budget())
        return reply


def _is_training(msg: Message) -> bool:
    """A train message that trains (not a settled run's join or settle message)."""
    config = settled_config(msg.content)
    return config is None or str(config.get(ACTION, TRAIN)) == TRAIN


def dp_from_config(config: Mapping[str, Any]) -> LocalDp | None:
    """The DP settings of a run (or node) config; None when ``dp-epsilon`` is absent or 0."""
    epsilon = float(config.get("dp-epsilon", 0) or 0)
    if epsilon <= 0:
        return None
    return LocalDp(
        clipping_norm=float(config.get("dp-clipping-norm", 1.0)),
        sensitivity=float(config.get("dp-sensitivity", 1.0)),
        epsilon=epsilon,
        delta=float(config.get("dp-delta", 1e-5)),
    )


def run_config_dp(
    msg: Message, context: Context, call_next: Callable[[Message, Context], Message]
) -> Message:
    """Local DP as the run config (then the node config) says; nothing when it says nothing."""
    dp = dp_from_config({**dict(context.run_config), **_dp_only(context.node_config)})
    if dp is None:
        return call_next(msg, context)
    return dp(msg, context, call_next)


def _dp_only(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dict(config).items() if k in DP_KEYS}
