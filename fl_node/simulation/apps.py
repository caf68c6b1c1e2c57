"""Simulated participants: the example app, wrapped with the quality profiles of a task config.

The production node only knows client apps. Experiments need clients of known, differing quality,
so here the example digits app is built with a profile's data (fewer samples, noisy labels) and
wrapped with its behaviour: :class:`LabelNoise` (and :class:`DataProfile`) degrade a data app's
labels and sample count, :class:`FreeRider` sends the model back untrained, :class:`SignFlip`
ascends instead of descending, :class:`RandomPoison` sends scaled noise. The copycat is a node
(:mod:`fl_node.simulation.adversaries`), since copying happens on the protocol, not in the app.
Simulations start nodes with ``--app fl_node.simulation.apps:client_fn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fl_node.app.client import ClientApp, Context, NumPyClient, Scalar
from fl_node.apps.digits import DigitsClient, partition_of, task_context
from fl_node.federation.context import TaskContext, derive_seed
from fl_node.federation.offline import OfflineClient
from fl_node.training.quality import ClientProfile, apply_behavior, apply_profile_to_data


def _named(parameters: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"p{i:05d}": np.asarray(p) for i, p in enumerate(parameters)}


def _listed(weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [weights[name] for name in sorted(weights)]


@dataclass
class Behaving:
    """A client whose honest update is replaced by a profile's behaviour (after training)."""

    inner: NumPyClient
    profile: ClientProfile
    rng_for_round: Callable[[int], np.random.Generator]

    def get_parameters(self, config: dict[str, Scalar]) -> list[np.ndarray]:
        return self.inner.get_parameters(config)

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[list[np.ndarray], int, dict[str, Scalar]]:
        trained, count, metrics = self.inner.fit(parameters, config)
        rng = self.rng_for_round(int(config.get("server_round", 0)))
        sent = apply_behavior(self.profile, _named(parameters), _named(trained), rng)
        return _listed(sent), count, metrics

    def evaluate(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        return self.inner.evaluate(parameters, config)


class DataProfile(DigitsClient):
    """A data app (one exposing its training set as ``x``/``y``) with a profile's data knobs
    applied: at most ``max_samples`` samples, and ``label_noise`` of the labels flipped, each to
    another class."""

    def __init__(self, inner: DigitsClient, profile: ClientProfile, rng: np.random.Generator):
        n_classes = inner.ctx.dataset.n_classes
        data = apply_profile_to_data(inner.x, inner.y, profile, n_classes, rng)
        super().__init__(inner.ctx, inner.index, data)


class LabelNoise(DataProfile):
    """A data app with ``fraction`` of its labels flipped (a client with noisy data)."""

    def __init__(self, inner: DigitsClient, fraction: float, seed: int = 0):
        profile = ClientProfile(label_noise=fraction)
        super().__init__(inner, profile, np.random.default_rng(seed))


def _unused_rng(_round: int) -> np.random.Generator:
    return np.random.default_rng(0)


class FreeRider(Behaving):
    """Sends the global model back unchanged (it trains, then throws the result away)."""

    def __init__(self, inner: NumPyClient):
        super().__init__(inner, ClientProfile(behavior="free_rider"), _unused_rng)


class SignFlip(Behaving):
    """Sends ``parent - scale * (trained - parent)``: gradient ascent, amplified."""

    def __init__(self, inner: NumPyClient, scale: float = 5.0):
        profile = ClientProfile(behavior="poison_signflip", poison_scale=scale)
        super().__init__(inner, profile, _unused_rng)


class RandomPoison(Behaving):
    """Sends the parent plus isotropic noise ``scale`` times as large as an honest step."""

    def __init__(
        self,
        inner: NumPyClient,
        scale: float = 5.0,
        rng_for_round: Callable[[int], np.random.Generator] = np.random.default_rng,
    ):
        profile = ClientProfile(behavior="poison_random", poison_scale=scale)
        super().__init__(inner, profile, rng_for_round)


def client_fn(context: Context) -> NumPyClient:
    """Client ``partition-id`` of a simulated task: its profile's data and behaviour."""
    ctx = task_context(context)
    return simulated_client(ctx, partition_of(context, ctx))


def simulated_client(ctx: TaskContext, index: int) -> NumPyClient:
    """Client ``index`` of the task config's client list: the example app on its slice, with
    the slot's quality profile."""
    profile = ctx.profile(index)
    data_rng = np.random.default_rng(derive_seed(ctx.config.seed, "client-data", index))
    base = DataProfile(DigitsClient(ctx, index, ctx.partition_data(index)), profile, data_rng)

    def rng_for_round(number: int) -> np.random.Generator:
        return np.random.default_rng(derive_seed(ctx.config.seed, "behavior", index, number))

    if profile.behavior in ("honest", "copycat"):
        return base
    return Behaving(base, profile, rng_for_round)


def offline_client(ctx: TaskContext, index: int) -> OfflineClient:
    """Slot ``index`` of the config's client list as a client of the offline runtime."""
    address = f"0x{index + 1:040x}"

    def make(_context: Context) -> NumPyClient:
        return simulated_client(ctx, index)

    return OfflineClient(address, ClientApp(make, f"simulated client {index}"), Context(address))
