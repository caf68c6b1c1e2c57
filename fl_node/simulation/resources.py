"""Resources a simulated client buys with base tokens: labels for its own unlabelled data.

The WallStreetFeds premise is that a client lacks start-up resources and raises them by selling
its token. Here that is modelled on the example app's data: each simulated client holds its whole
slice of the dataset, but only a fraction of it is labelled at the start (its start-up
resources); the rest is its own unlabelled data. Labels cost a stated price in base tokens per
sample, paid on-chain to a vendor, and the vendor's deliveries are written to a small ledger file
the client's app reads before every fit: a funded client trains on more samples.

Which samples get labelled, and which of those labels are wrong, is fixed up front by the seed:
the slice is put in a seeded order (:func:`label_order`); the first ``n`` samples of that order
are the labelled ones when ``n`` are labelled; and a client whose profile has label noise ``p``
gets the ``k``-th label of that order wrong exactly when ``floor(p * (k + 1)) > floor(p * k)``
(:func:`noisy_positions`), so any ``n`` labels it holds carry exactly ``floor(p * n)`` wrong
ones: labels a noisy client buys are as noisy as the ones it started with. A free-rider or a
poisoner can buy labels too; its update throws them away (its behaviour wraps the app).

The production node knows nothing of this: the app (:func:`client_fn`) is a simulation app that
reads its ledger's path from the node config (``resources=<path>``), as any participant's app
reads its own settings.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from fl_node.app.client import Context, NumPyClient, Scalar
from fl_node.apps.digits import DigitsClient, partition_of, task_context
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext, derive_seed
from fl_node.simulation.apps import Behaving
from fl_node.training.quality import ClientProfile

#: The node-config key naming a client's resource ledger (a JSON file).
RESOURCES_KEY = "resources"


# -- the purchase math (pure) -------------------------------------------------------------------
def start_labels(available: int, fraction: float) -> int:
    """Labels a client holds at the start: ``floor(fraction * available)``, at least one (a
    client trains on something) and at most ``available``."""
    if available < 1:
        raise ConfigError(f"a client needs at least one sample, got {available}")
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"the labelled fraction must be within [0, 1], got {fraction!r}")
    return min(available, max(1, math.floor(Fraction(str(fraction)) * available)))


def labels_affordable(spendable: int, price: int, remaining: int) -> int:
    """How many labels ``spendable`` base units buy at ``price`` base units each, at most the
    ``remaining`` unlabelled samples (0 if nothing is spendable)."""
    if price < 1:
        raise ConfigError(f"the label price must be at least one base unit, got {price}")
    if remaining < 0:
        raise ConfigError(f"remaining samples cannot be negative, got {remaining}")
    return max(0, min(remaining, max(0, spendable) // price))


def purchase_cost(labels: int, price: int) -> int:
    """What ``labels`` cost at ``price`` base units each (base units, exact)."""
    if labels < 0:
        raise ConfigError(f"cannot buy a negative number of labels: {labels}")
    return labels * price


def spendable(wallet: int, reserve: int) -> int:
    """Base units of a wallet above the reserve its stake needs (never negative)."""
    return max(0, wallet - reserve)


def stake_reserve(stake: int, free_stake: int, payout_cap: float) -> int:
    """Base units a client keeps in its wallet: what its vault would still need to cover the
    next round's stake and one clipped burn of it (``stake * (1 + cap) - free``, at least 0)."""
    need = stake + math.ceil(Fraction(str(payout_cap)) * stake)
    return max(0, need - free_stake)


def tokens_to_sell(balance: int, share_bps: int) -> int:
    """Client-token units a client sells of a ``balance``: ``share_bps`` basis points of it,
    rounded down."""
    if not 0 <= share_bps <= 10_000:
        raise ConfigError(f"the share sold must be within [0, 10000] bps, got {share_bps}")
    return balance * share_bps // 10_000


def label_order(available: int, seed: int) -> np.ndarray:
    """The seeded order in which a slice of ``available`` samples gets labelled."""
    return np.random.default_rng(seed).permutation(available)


def noisy_positions(count: int, noise: float) -> np.ndarray:
    """Whether the ``k``-th label (``k < count``) of the labelling order is wrong: exactly when
    ``floor(p * (k + 1)) > floor(p * k)``, so any first ``n`` labels hold ``floor(p * n)`` wrong
    ones."""
    if not 0.0 <= noise <= 1.0:
        raise ConfigError(f"label noise must be within [0, 1], got {noise!r}")
    p = Fraction(str(noise))
    return np.array([math.floor(p * (k + 1)) > math.floor(p * k) for k in range(count)], dtype=bool)


@dataclass(frozen=True)
class LabelPool:
    """A client's slice with its labelling order and the labels it would be told (wrong ones
    included): ``data(n)`` is its training set when ``n`` samples are labelled."""

    x: np.ndarray
    y: np.ndarray  # the true labels, in the slice's own order
    noise: float
    n_classes: int
    seed: int
    max_samples: int | None = None

    @property
    def available(self) -> int:
        n = len(self.y)
        return n if self.max_samples is None else min(n, self.max_samples)

    def order(self) -> np.ndarray:
        return label_order(len(self.y), self.seed)[: self.available]

    def told_labels(self) -> np.ndarray:
        """The label each sample gets when it is labelled, in labelling order."""
        order = self.order()
        told = np.array(self.y, dtype=np.int64)[order]
        wrong = noisy_positions(len(order), self.noise)
        if wrong.any():
            if self.n_classes < 2:
                raise ConfigError("label noise needs at least 2 classes")
            rng = np.random.default_rng(derive_seed(self.seed, "wrong-label"))
            shift = rng.integers(1, self.n_classes, size=len(order))
            told[wrong] = (told[wrong] + shift[wrong]) % self.n_classes
        return told

    def data(self, labelled: int) -> tuple[np.ndarray, np.ndarray]:
        """The training set of a client with ``labelled`` labels (clamped to 1..available)."""
        n = max(1, min(labelled, self.available))
        order = self.order()[:n]
        return np.array(self.x[order], copy=True), self.told_labels()[:n]


# -- the ledger the vendor writes and the app reads ---------------------------------------------
@dataclass
class ResourceLedger:
    """A client's resources: labels held (start-up plus bought) and what it paid, per round."""

    client: str
    available: int  # samples of its slice (the most it can ever have labelled)
    start: int  # labels it started with
    labelled: int  # labels it holds now
    purchases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.available - self.labelled

    def record(self, round_number: int, labels: int, paid: int, tx: str) -> None:
        if labels > self.remaining:
            raise ConfigError(
                f"{self.client}: {labels} labels bought but only {self.remaining} unlabelled"
            )
        self.labelled += labels
        self.purchases.append(
            {"round": round_number, "labels": labels, "paid": str(paid), "tx": tx}
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)  # the app never reads half a file

    @classmethod
    def load(cls, path: Path) -> ResourceLedger:
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except FileNotFoundError:
            raise ConfigError(f"resource ledger {path} does not exist") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"resource ledger {path} is not a ledger: {exc}") from None


# -- the app ------------------------------------------------------------------------------------
def label_pool(ctx: TaskContext, index: int) -> LabelPool:
    """Slot ``index``'s slice with its profile's label noise and sample cap."""
    x, y = ctx.partition_data(index)
    profile = ctx.profile(index)
    return LabelPool(
        x=x,
        y=y,
        noise=profile.label_noise,
        n_classes=ctx.dataset.n_classes,
        seed=derive_seed(ctx.config.seed, "labels", index),
        max_samples=profile.max_samples,
    )


class LabelledClient:
    """The example app trained on the labelled part of its slice, as its ledger says before
    every fit (the ledger grows as the client buys labels)."""

    def __init__(self, ctx: TaskContext, index: int, ledger: Path):
        self.ctx = ctx
        self.index = index
        self.ledger = ledger
        self.pool = label_pool(ctx, index)
        self.trained_on = 0  # labels of the last fit

    def _client(self) -> DigitsClient:
        labelled = ResourceLedger.load(self.ledger).labelled
        self.trained_on = max(1, min(labelled, self.pool.available))
        return DigitsClient(self.ctx, self.index, self.pool.data(labelled))

    def get_parameters(self, config: dict[str, Scalar]) -> list[np.ndarray]:
        return [np.array(p, copy=True) for p in self.ctx.initial_parameters]

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[list[np.ndarray], int, dict[str, Scalar]]:
        params, count, metrics = self._client().fit(parameters, config)
        return params, count, {**metrics, "labelled": self.trained_on}

    def evaluate(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        return self._client().evaluate(parameters, config)


def resourced_client(ctx: TaskContext, index: int, ledger: Path) -> NumPyClient:
    """Slot ``index`` with bought labels and its profile's behaviour (a free-rider or poisoner
    trains on its labels, then sends what its behaviour sends)."""
    profile: ClientProfile = ctx.profile(index)
    inner = LabelledClient(ctx, index, ledger)

    def rng_for_round(number: int) -> np.random.Generator:
        return np.random.default_rng(derive_seed(ctx.config.seed, "behavior", index, number))

    if profile.behavior in ("honest", "copycat"):
        return inner
    return Behaving(inner, profile, rng_for_round)


def client_fn(context: Context) -> NumPyClient:
    """Client ``partition-id`` of a simulated task, its labels read from the ledger the node
    config's ``resources`` entry names."""
    ctx = task_context(context)
    index = partition_of(context, ctx)
    ref = context.node_config.get(RESOURCES_KEY)
    if not isinstance(ref, str) or not ref:
        raise ConfigError(
            f"the resourced app needs the node config entry {RESOURCES_KEY}=<ledger path>"
        )
    return resourced_client(ctx, index, Path(ref))
