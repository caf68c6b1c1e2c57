"""Split the training set among clients: IID, label skew (Dirichlet), or quantity skew.

The label-Dirichlet scheme follows Hsu et al. (2019) as implemented by NIID-Bench (Li et al. 2022):
for every class, the clients' shares are drawn from Dir(alpha), so a small alpha gives each client
a few dominant classes; clients that already hold their fair share of samples take no more, and
the whole draw is repeated until every client has ``min_samples``. The quantity
scheme draws only the clients' sizes from Dir(alpha) over an IID shuffle. Both are pure functions
of the labels and the seed, so every participant derives the same partition from the task.
"""

from __future__ import annotations

import math

import numpy as np

from fl_node.errors import ConfigError

SCHEMES = ("dirichlet", "iid", "quantity")
#: Draws of the label-Dirichlet partition before giving up on ``min_samples``.
MAX_DRAWS = 1000


def _cuts(proportions: np.ndarray, total: int) -> np.ndarray:
    """Split points of ``total`` items by ``proportions`` (sum 1), deterministic in float64."""
    return np.floor(np.cumsum(proportions)[:-1] * total).astype(np.int64)


def _validate(labels: np.ndarray, n_clients: int, alpha: float, min_samples: int) -> None:
    if labels.ndim != 1:
        raise ConfigError(f"labels must be a 1-D array, got shape {labels.shape}")
    if isinstance(n_clients, bool) or not isinstance(n_clients, int | np.integer) or n_clients < 1:
        raise ConfigError(f"n_clients must be an integer >= 1, got {n_clients!r}")
    if not (isinstance(alpha, int | float) and math.isfinite(alpha) and alpha > 0):
        raise ConfigError(f"alpha must be a finite number > 0, got {alpha!r}")
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 0:
        raise ConfigError(f"min_samples must be an integer >= 0, got {min_samples!r}")
    need = n_clients * max(min_samples, 1)
    if len(labels) < need:
        raise ConfigError(
            f"too few samples: {len(labels)} training samples cannot give {n_clients} clients "
            f"at least {max(min_samples, 1)} each"
        )


def _iid(n: int, n_clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    return list(np.array_split(rng.permutation(n), n_clients))


def _quantity(
    n: int, n_clients: int, rng: np.random.Generator, alpha: float, min_samples: int
) -> list[np.ndarray]:
    """Everyone gets ``min_samples``; the rest is shared by Dir(alpha) proportions."""
    order = rng.permutation(n)
    spare = n - n_clients * min_samples
    extra = np.diff(
        np.concatenate([[0], _cuts(rng.dirichlet([alpha] * n_clients), spare), [spare]])
    )
    sizes = extra + min_samples
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [order[bounds[i] : bounds[i + 1]] for i in range(n_clients)]


def _dirichlet(
    labels: np.ndarray, n_clients: int, rng: np.random.Generator, alpha: float, min_samples: int
) -> list[np.ndarray]:
    classes = np.unique(labels)
    by_class = [np.flatnonzero(labels == c) for c in classes]
    fair_share = len(labels) / n_clients
    for _ in range(MAX_DRAWS):
        shards: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
        sizes = np.zeros(n_clients, dtype=np.int64)
        for idx in by_class:
            shuffled = rng.permutation(idx)
            shares = rng.dirichlet([alpha] * n_clients)
            # NIID-Bench's balancing: a client already holding its fair share of the samples
            # takes no more, so label skew does not also starve clients of data.
            open_shares = shares * (sizes < fair_share)
            if open_shares.sum() > 0:
                shares = open_shares / open_shares.sum()
            cuts = _cuts(shares, len(shuffled))
            for client, part in enumerate(np.split(shuffled, cuts)):
                shards[client].append(part)
                sizes[client] += len(part)
        parts = [np.concatenate(s) for s in shards]
        if min(len(p) for p in parts) >= min_samples:
            return parts
    raise ConfigError(
        f"could not draw a Dirichlet(alpha={alpha}) partition giving each of {n_clients} clients "
        f"at least {min_samples} samples in {MAX_DRAWS} draws: raise alpha, lower min_samples "
        "or use fewer clients"
    )


def partition(
    labels: np.ndarray,
    n_clients: int,
    scheme: str,
    seed: int,
    alpha: float = 0.5,
    min_samples: int = 10,
) -> list[np.ndarray]:
    """Disjoint, sorted int64 index arrays into ``labels``, one per client, covering every index."""
    labels = np.asarray(labels)
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown partition scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    _validate(labels, n_clients, alpha, min_samples)
    rng = np.random.default_rng(seed)
    n_clients = int(n_clients)
    if scheme == "iid":
        parts = _iid(len(labels), n_clients, rng)
    elif scheme == "quantity":
        parts = _quantity(len(labels), n_clients, rng, float(alpha), min_samples)
    else:
        parts = _dirichlet(labels, n_clients, rng, float(alpha), min_samples)
    return [np.sort(p).astype(np.int64) for p in parts]
