"""``fl-node bench scoring``: how good and how cheap are the contribution scores?

Without a chain, on digits with 8 clients of known quality (three clean, label noise 0.2, 0.4 and
0.6, a free-rider and a sign-flipping poisoner; IID partition, MLP, FedAvg by samples), every
round's game (utility = minus the validation loss of the aggregate of a coalition, exactly as the
round engine builds it) is scored by every contribution method, with exact Shapley as the ground
truth. Reported per method:

- agreement with exact Shapley each round (Spearman rank correlation) and its mean;
- model evaluations (forward passes over the validation set) per round against exact's 2^n;
- the scores accumulated over the rounds against the clients' true quality order;
- scoring time as a fraction of the round's local training time, and its growth from 4 to 8 to
  16 clients (honest clients with mixed label noise; exact Shapley only up to 10 clients).

GTG-Shapley's parameters decide its cost, so a small grid of them is scored on the same games and
reported next to the setting the benchmark uses.

The rounds run through the daemons' round engine offline (no chain): each round's game is the
engine's own. Every method scores a fresh game (same updates, same utility), so its evaluation
count and time are its own and not helped by another method's memoized coalitions. The clients
train in a seeded random order (as their addresses would sort them) and are reported in the
profiles' order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr

from fl_node.config import TaskConfig
from fl_node.contribution import Game, build_game, compute_contributions
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext, derive_seed
from fl_node.federation.offline import OfflineRound, run_offline
from fl_node.simulation.apps import offline_client
from fl_node.training.data import Dataset, load_dataset
from fl_node.training.local import Evaluator, TrainConfig, train_local
from fl_node.training.models import ModelSpec, build_model
from fl_node.training.params import ParamSpec, flatten, model_weights
from fl_node.training.quality import ClientProfile

#: Exact Shapley first: it is the ground truth the others are compared with.
METHODS = ("exact_shapley", "loo", "mc_shapley", "gtg_shapley", "cosine", "data_size")
#: Methods whose accumulated scores must order the clients by quality.
RANKERS = ("exact_shapley", "mc_shapley", "gtg_shapley", "loo")
#: Exact Shapley costs 2^n forward passes: skipped above this size in the timing runs.
EXACT_LIMIT = 10

DEFAULT_PROFILES = (
    ClientProfile(),
    ClientProfile(),
    ClientProfile(),
    ClientProfile(label_noise=0.2),
    ClientProfile(label_noise=0.4),
    ClientProfile(label_noise=0.6),
    ClientProfile(behavior="free_rider"),
    ClientProfile(behavior="poison_signflip", poison_scale=3.0),
)
#: Timing row of GTG-Shapley with the library's default parameters.
GTG_DEFAULTS_ROW = "gtg_shapley (library defaults)"
#: Label noise of the honest clients of the timing runs, cycled over the clients.
SIZE_NOISE = (0.0, 0.2, 0.4, 0.6)

#: GTG-Shapley parameters of the benchmark: the library defaults (every client and every pair of
#: clients first, then 2 random permutations), the best rank agreement with exact Shapley within
#: 20 % of exact's evaluations found on seeds 0-4. Extra permutations barely move the estimate;
#: the evaluation cap only guards the 20 % budget (51 of exact's 256 for 8 clients).
GTG_PARAMS: dict[str, Any] = {
    "truncation": 0.01,
    "convergence": 0.05,
    "max_permutations": 2,
    "skip_threshold": 1e-4,
    "guided_depth": 2,
    "max_evaluations": 51,
}
#: Settings of the GTG sweep (unspecified parameters keep the library defaults).
GTG_GRID: tuple[dict[str, Any], ...] = (
    {},
    {"guided_depth": 1, "max_permutations": 7},
    {"guided_depth": 1, "truncation": 0.2, "max_permutations": 7},
    {"max_permutations": 1},
    {"max_permutations": 8},
    {"truncation": 0.2, "max_permutations": 8},
    {"guided_depth": 3, "max_evaluations": 51},
    {"max_permutations": 30, "max_evaluations": 51},
    {"convergence": 0.0, "max_permutations": 64},
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class Setup:
    """What is trained: the dataset, the model and the local training recipe."""

    dataset: str = "digits"
    hidden: int = 64
    epochs: int = 2
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9


@dataclass(frozen=True)
class Scored:
    values: np.ndarray
    evaluations: int
    seconds: float


# -- math ---------------------------------------------------------------------------------------
def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation that is defined everywhere: two constant vectors agree (1), a
    constant one against a varying one carries no ranking (0)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"spearman needs two vectors of the same length, got {x.shape}, {y.shape}")
    flat_x, flat_y = (
        bool(np.ptp(x) == 0) if x.size else True,
        bool(np.ptp(y) == 0) if y.size else True,
    )
    if flat_x and flat_y:
        return 1.0
    if flat_x or flat_y or x.size < 2:
        return 0.0
    rho = float(spearmanr(x, y).statistic)
    return rho if math.isfinite(rho) else 0.0


def relative_error(values: np.ndarray, exact: np.ndarray) -> float:
    """``||values - exact|| / max(||values||, ||exact||)``, within [0, 2] (0 when both are zero):
    how far the scores are in utility units, which a rank correlation ignores when clients are
    nearly tied."""
    v, e = np.asarray(values, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    scale = max(float(np.linalg.norm(v)), float(np.linalg.norm(e)))
    return float(np.linalg.norm(v - e)) / scale if scale > 0 else 0.0


def true_quality(profile: ClientProfile) -> float:
    """A client's hidden quality, higher is better: a poisoner is worst, a free-rider (or a
    copycat) contributes nothing, an honest client is as good as its labels are clean."""
    if profile.behavior.startswith("poison"):
        return -2.0
    if profile.behavior in ("free_rider", "copycat"):
        return -1.0
    return 1.0 - float(profile.label_noise)


def profile_label(profile: ClientProfile) -> str:
    if profile.behavior == "poison_signflip":
        return f"poisoner (sign flip x{profile.poison_scale:g})"
    if profile.behavior != "honest":
        return profile.behavior.replace("_", "-")
    return "clean" if profile.label_noise == 0 else f"noise {profile.label_noise:g}"


# -- the federation -----------------------------------------------------------------------------
def bench_config(setup: Setup, profiles: Sequence[ClientProfile], seed: int) -> TaskConfig:
    """The task config of the benchmark's federation: FedAvg by samples over IID slices, the
    clients' quality profiles in order, utility minus the validation loss."""
    clients = [
        {
            "label_noise": p.label_noise,
            "max_samples": p.max_samples,
            "behavior": p.behavior,
            "poison_scale": p.poison_scale,
        }
        for p in profiles
    ]
    return TaskConfig.from_dict(
        {
            "name": "bench-scoring",
            "seed": seed,
            "data": {"dataset": setup.dataset, "partition": "iid"},
            "model": {"arch": "mlp", "hidden": setup.hidden},
            "training": {
                "epochs": setup.epochs,
                "batch_size": setup.batch_size,
                "lr": setup.lr,
                "momentum": setup.momentum,
            },
            "federation": {"max_clients": len(profiles)},
            "aggregation": {"strategy": "fedavg", "weighting": "samples"},
            "scoring": {"utility": "neg_loss"},
            "clients": clients,
        },
        source="bench scoring",
    )


class Federation:
    """The benchmark's federation: its clients through the daemons' round engine, offline (no
    chain). Each round yields the engine's prepared round, whose game every method values."""

    def __init__(self, setup: Setup, profiles: Sequence[ClientProfile], seed: int) -> None:
        self.ctx = TaskContext(bench_config(setup, profiles, seed))
        clients = [offline_client(self.ctx, i) for i in range(len(profiles))]
        ctx = self.ctx
        self._rounds = run_offline(ctx, ctx.layout, ctx.initial_blob, clients, rounds=10**6)
        self.g = flatten(ctx.initial_weights, ParamSpec.from_weights(ctx.initial_weights))

    def next_round(self) -> OfflineRound:
        """Train every client on the current model and aggregate (the next round's parent). The
        clients sort in index order, so the game's players are ``prepared.valid``: an update the
        engine excludes (a free-rider's copy of the global model) is not in the game."""
        offline = next(self._rounds)
        self.g = offline.prepared.new_g
        return offline


def score(method: str, game: Game, seed: int, params: Mapping[str, Any]) -> Scored:
    started = time.perf_counter()
    out = compute_contributions(method, game, seed=seed, **params)
    return Scored(out.values, out.evaluations, time.perf_counter() - started)


# -- experiments --------------------------------------------------------------------------------
def _setup(setup: Setup, seed: int) -> tuple[Dataset, ModelSpec, TrainConfig]:
    ds = load_dataset(setup.dataset, seed=seed)
    spec = ModelSpec(
        arch="mlp",
        n_features=ds.n_features,
        n_classes=ds.n_classes,
        hidden=setup.hidden,
        image_shape=ds.image_shape,
    )
    train = TrainConfig(
        epochs=setup.epochs, batch_size=setup.batch_size, lr=setup.lr, momentum=setup.momentum
    )
    _warm_up(ds, spec, train)
    return ds, spec, train


def _warm_up(ds: Dataset, spec: ModelSpec, train: TrainConfig) -> None:
    """One untimed training step and forward pass: torch's one-off start-up cost (about a
    second) would otherwise be charged to the first round's training time."""
    weights = model_weights(build_model(spec, seed=0))
    few = slice(0, min(len(ds.y_train), train.batch_size))
    train_local(spec, weights, ds.x_train[few], ds.y_train[few], TrainConfig(), seed=0)
    Evaluator(spec, ds.x_val, ds.y_val)(flatten(weights, ParamSpec.from_weights(weights)))


def quality_run(
    setup: Setup,
    profiles: Sequence[ClientProfile],
    seed: int,
    rounds: int,
    gtg_params: Mapping[str, Any],
    gtg_grid: Sequence[Mapping[str, Any]],
    say: Say,
) -> dict[str, Any]:
    """One seed of the quality experiment: every method on every round's game."""
    _setup(setup, seed)
    # Clients sit in a seeded random order (as addresses would sort them): GTG's guided sampling
    # walks the indices, so a fixed order (poisoner last) would favour some settings by accident.
    order = np.random.default_rng(derive_seed(seed, "client-order")).permutation(len(profiles))
    back = np.argsort(order)  # values[back] lists the game's values in the profiles' order
    fed = Federation(setup, [profiles[j] for j in order], seed)
    params = {m: dict(gtg_params) if m == "gtg_shapley" else {} for m in METHODS}
    per_round: list[dict[str, Any]] = []
    totals = {m: np.zeros(len(profiles)) for m in METHODS}
    for rnd in range(1, rounds + 1):
        rg = fed.next_round()
        new_game = rg.prepared.game
        scoring_seed = derive_seed(seed, "scoring", rnd)
        scored = {m: score(m, new_game(), scoring_seed, params[m]) for m in METHODS}
        exact = scored["exact_shapley"].values
        probe = new_game()
        valid = rg.prepared.valid  # the game's players; an excluded update (a free-rider) is 0

        def full(values: np.ndarray, valid: list[int] = valid) -> np.ndarray:
            out = np.zeros(len(profiles))
            out[valid] = values
            return out

        row: dict[str, Any] = {
            "round": rnd,
            "gain": probe.grand - probe.empty,
            "train_seconds": rg.train_seconds,
            "methods": {
                m: {
                    "values": full(s.values)[back].tolist(),
                    "evaluations": s.evaluations,
                    "seconds": s.seconds,
                    "spearman_vs_exact": spearman(s.values, exact),
                    "relative_error": relative_error(s.values, exact),
                }
                for m, s in scored.items()
            },
            "gtg_sweep": [],
        }
        for grid_params in gtg_grid:
            s = score("gtg_shapley", new_game(), scoring_seed, grid_params)
            row["gtg_sweep"].append(
                {
                    "evaluations": s.evaluations,
                    "spearman_vs_exact": spearman(s.values, exact),
                    "relative_error": relative_error(s.values, exact),
                }
            )
        for m, s in scored.items():
            totals[m] += full(s.values)[back]
        per_round.append(row)
        say(
            f"seed {seed} round {rnd}/{rounds}: gain {row['gain']:+.4f}, training "
            f"{rg.train_seconds:.2f} s; "
            + ", ".join(
                f"{m} rho {s['spearman_vs_exact']:.2f} ({s['evaluations']} ev)"
                for m, s in row["methods"].items()
                if m != "exact_shapley"
            )
        )
    quality = [true_quality(p) for p in profiles]
    test_accuracy = float(fed.ctx.tester(fed.g).accuracy)
    return {
        "seed": seed,
        "client_order": order.tolist(),
        "rounds": per_round,
        "accumulated": {m: v.tolist() for m, v in totals.items()},
        "accumulated_spearman": {m: spearman(v, quality) for m, v in totals.items()},
        "test_accuracy": test_accuracy,
    }


def timing_rows(gtg_params: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Label -> (method, params) of the timing runs: every method, plus GTG-Shapley with the
    library defaults (what a task gets unless its config says otherwise)."""
    rows = {m: (m, dict(gtg_params) if m == "gtg_shapley" else {}) for m in METHODS}
    rows[GTG_DEFAULTS_ROW] = ("gtg_shapley", {})
    return rows


def size_run(
    setup: Setup,
    n: int,
    seed: int,
    rounds: int,
    gtg_params: Mapping[str, Any],
    say: Say,
) -> dict[str, Any]:
    """Scoring cost of ``n`` honest clients with mixed label noise over ``rounds`` rounds."""
    _setup(setup, seed)
    profiles = [ClientProfile(label_noise=SIZE_NOISE[i % len(SIZE_NOISE)]) for i in range(n)]
    fed = Federation(setup, profiles, seed)
    rows = timing_rows(gtg_params)
    run = {k: v for k, v in rows.items() if v[0] != "exact_shapley" or n <= EXACT_LIMIT}
    train_seconds = 0.0
    seconds = dict.fromkeys(run, 0.0)
    evaluations = dict.fromkeys(run, 0)
    for rnd in range(1, rounds + 1):
        rg = fed.next_round()
        new_game = rg.prepared.game
        scoring_seed = derive_seed(seed, "scoring", rnd)
        train_seconds += rg.train_seconds
        for label, (method, params) in run.items():
            s = score(method, new_game(), scoring_seed, params)
            seconds[label] += s.seconds
            evaluations[label] += s.evaluations
    say(
        f"seed {seed}, {n} clients: training {train_seconds / rounds:.3f} s/round; "
        + ", ".join(f"{k} {seconds[k] / rounds:.3f} s" for k in run)
    )
    return {
        "clients": n,
        "train_seconds": train_seconds / rounds,
        "methods": {
            k: {
                "evaluations": evaluations[k] / rounds,
                "seconds": seconds[k] / rounds,
                "time_fraction": seconds[k] / train_seconds,
            }
            if k in run
            else None
            for k in rows
        },
    }


# -- summaries ----------------------------------------------------------------------------------
def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _exact_evaluations(rows: Sequence[dict[str, Any]]) -> float:
    """Exact Shapley's mean evaluations per round: 2^k for a game of k used updates (the engine
    leaves excluded updates, such as a free-rider's, out of the game)."""
    return _mean([r["methods"]["exact_shapley"]["evaluations"] for r in rows])


def summarize_methods(runs: Sequence[dict[str, Any]], n: int) -> dict[str, Any]:
    rows = [r for run in runs for r in run["rounds"]]
    train_total = sum(r["train_seconds"] for r in rows)
    out: dict[str, Any] = {}
    for m in METHODS:
        rhos = [r["methods"][m]["spearman_vs_exact"] for r in rows]
        evals = [r["methods"][m]["evaluations"] for r in rows]
        secs = [r["methods"][m]["seconds"] for r in rows]
        acc = [run["accumulated_spearman"][m] for run in runs]
        errors = [r["methods"][m]["relative_error"] for r in rows]
        out[m] = {
            "relative_error_mean": _mean(errors),
            "spearman_vs_exact_mean": _mean(rhos),
            "spearman_vs_exact_min": float(min(rhos)),
            "spearman_vs_exact_per_round": [
                [r["methods"][m]["spearman_vs_exact"] for r in run["rounds"]] for run in runs
            ],
            "evaluations_mean": _mean(evals),
            "evaluation_ratio": _mean(evals) / _exact_evaluations(rows),
            "accumulated_spearman_mean": _mean(acc),
            "accumulated_spearman_per_seed": acc,
            "seconds_mean": _mean(secs),
            "time_fraction": sum(secs) / train_total if train_total > 0 else None,
        }
    return out


def summarize_sweep(
    runs: Sequence[dict[str, Any]], grid: Sequence[Mapping[str, Any]], n: int
) -> list[dict[str, Any]]:
    rows = [r for run in runs for r in run["rounds"]]
    out = []
    for k, params in enumerate(grid):
        rhos = [r["gtg_sweep"][k]["spearman_vs_exact"] for r in rows]
        evals = [r["gtg_sweep"][k]["evaluations"] for r in rows]
        errors = [r["gtg_sweep"][k]["relative_error"] for r in rows]
        rho, ratio = _mean(rhos), _mean(evals) / _exact_evaluations(rows)
        out.append(
            {
                "params": dict(params),
                "spearman_vs_exact_mean": rho,
                "relative_error_mean": _mean(errors),
                "evaluations_mean": _mean(evals),
                "evaluation_ratio": ratio,
                "meets_targets": rho >= 0.95 and ratio <= 0.2,
            }
        )
    return out


def summarize_sizes(runs: Sequence[dict[str, Any]], sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Per size, each timing row's evaluations, seconds and time fraction averaged over seeds
    (None where the method was not run, e.g. exact Shapley above :data:`EXACT_LIMIT`)."""
    out = []
    for n in sizes:
        mine = [r for r in runs if r["clients"] == n]
        methods: dict[str, Any] = {}
        for label in mine[0]["methods"]:
            cells = [r["methods"][label] for r in mine if r["methods"][label] is not None]
            methods[label] = (
                {
                    key: _mean([c[key] for c in cells])
                    for key in ("evaluations", "seconds", "time_fraction")
                }
                if cells
                else None
            )
        out.append(
            {
                "clients": n,
                "train_seconds": _mean([r["train_seconds"] for r in mine]),
                "methods": methods,
            }
        )
    return out


def _check_args(
    seeds: Sequence[int], rounds: int, sizes: Sequence[int], timing_rounds: int
) -> None:
    if not seeds:
        raise ConfigError("seeds must list at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigError(f"seeds must be non-negative integers, got {s!r}")
    for name, value in (("rounds", rounds), ("timing_rounds", timing_rounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ConfigError(f"sizes must be client counts >= 2, got {n!r}")


def _check_gtg(params: Mapping[str, Any]) -> None:
    """Reject bad GTG parameters before any training (ConfigError from the method itself)."""
    zero = np.zeros(1, dtype=np.float32)
    game = build_game(zero, [zero, zero], lambda _idx: zero, lambda _vec: 0.0)
    compute_contributions("gtg_shapley", game, seed=0, **params)


def run_bench(
    seeds: list[int],
    rounds: int,
    sizes: tuple[int, ...] = (4, 8, 16),
    say: Say = print,
    *,
    dataset: str = "digits",
    profiles: Sequence[ClientProfile] = DEFAULT_PROFILES,
    timing_rounds: int = 2,
    gtg_params: Mapping[str, Any] | None = None,
    gtg_grid: Sequence[Mapping[str, Any]] = GTG_GRID,
) -> dict[str, Any]:
    """Score every round of a federation of clients of known quality with every method (see the
    module docstring); JSON-ready result for :func:`to_markdown`."""
    _check_args(seeds, rounds, sizes, timing_rounds)
    if len(profiles) < 2:
        raise ConfigError(f"the quality experiment needs at least 2 clients, got {len(profiles)}")
    if len(profiles) > EXACT_LIMIT:
        raise ConfigError(
            f"the quality experiment needs exact Shapley: at most {EXACT_LIMIT} clients, "
            f"got {len(profiles)}"
        )
    setup = Setup(dataset=dataset)
    gtg = {**GTG_PARAMS, **(gtg_params or {})}
    for params in (gtg, *gtg_grid):
        _check_gtg(params)
    started = time.perf_counter()
    runs = [quality_run(setup, profiles, s, rounds, gtg, gtg_grid, say) for s in seeds]
    timing = [size_run(setup, k, s, timing_rounds, gtg, say) for s in seeds for k in sizes]
    say(f"scoring benchmark done in {time.perf_counter() - started:.1f} s")
    n = len(profiles)
    quality = [true_quality(p) for p in profiles]
    methods = summarize_methods(runs, n)
    gtg_row = methods["gtg_shapley"]
    targets = {
        "gtg_spearman_ge_0.95": gtg_row["spearman_vs_exact_mean"] >= 0.95,
        "gtg_evaluations_le_20pct_of_exact": gtg_row["evaluation_ratio"] <= 0.2,
        "accumulated_spearman_ge_0.9": {
            m: methods[m]["accumulated_spearman_mean"] >= 0.9 for m in RANKERS
        },
    }
    return {
        "seeds": list(seeds),
        "rounds": rounds,
        "config": {
            **asdict(setup),
            "model": "mlp",
            "partition": "iid",
            "aggregation": "fedavg by samples",
            "utility": "-validation loss",
            "clients": [{"label": profile_label(p), **asdict(p)} for p in profiles],
            "true_quality": quality,
            "timing_rounds": timing_rounds,
            "sizes": list(sizes),
        },
        "gtg_params": gtg,
        "methods": methods,
        "gtg_sweep": summarize_sweep(runs, gtg_grid, n),
        "sizes": summarize_sizes(timing, sizes),
        "accumulated": {m: [run["accumulated"][m] for run in runs] for m in METHODS},
        "accumulated_spearman_ceiling": spearman(quality, rankdata(quality, method="ordinal")),
        "train_seconds_per_round": _mean(
            [r["train_seconds"] for run in runs for r in run["rounds"]]
        ),
        "test_accuracy": [run["test_accuracy"] for run in runs],
        "targets": targets,
        "runs": runs,
        "seconds": time.perf_counter() - started,
    }


# -- report -------------------------------------------------------------------------------------
def _params(p: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.items())


def _pct(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.1f} %"


def _method_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| method | Spearman vs exact, mean / min over rounds | relative error vs exact "
        "| evaluations / round (of exact) | accumulated Spearman vs true quality "
        "| scoring time / training time |",
        "|---|---|---|---|---|---|",
    ]
    for m, row in result["methods"].items():
        lines.append(
            f"| {m} | {row['spearman_vs_exact_mean']:.3f} / {row['spearman_vs_exact_min']:.3f} "
            f"| {row['relative_error_mean']:.3f} "
            f"| {row['evaluations_mean']:.1f} ({_pct(row['evaluation_ratio'])}) "
            f"| {row['accumulated_spearman_mean']:.3f} | {_pct(row['time_fraction'])} |"
        )
    return lines


def _sweep_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "GTG-Shapley sweep on the same games (library defaults: truncation=0.01, "
        "convergence=0.05, max_permutations=2, guided_depth=2, no evaluation cap; targets: "
        "Spearman >= 0.95 with <= 20 % of exact's evaluations):",
        "",
        "| parameters | Spearman vs exact | relative error | evaluations / round (of exact) "
        "| meets targets |",
        "|---|---|---|---|---|",
    ]
    for row in result["gtg_sweep"]:
        lines.append(
            f"| {_params(row['params']) or 'defaults'} | {row['spearman_vs_exact_mean']:.3f} "
            f"| {row['relative_error_mean']:.3f} "
            f"| {row['evaluations_mean']:.1f} ({_pct(row['evaluation_ratio'])}) "
            f"| {'yes' if row['meets_targets'] else 'no'} |"
        )
    return lines


def _accumulated_table(result: dict[str, Any]) -> list[str]:
    clients = result["config"]["clients"]
    lines = [
        f"Scores accumulated over the rounds (seed {result['seeds'][0]}; clients in true quality "
        "order; with the clean clients tied, distinct scores reach a Spearman of at most "
        f"{result['accumulated_spearman_ceiling']:.3f}):",
        "",
        "| method | " + " | ".join(c["label"] for c in clients) + " |",
        "|---|" + "---|" * len(clients),
    ]
    for m, per_seed in result["accumulated"].items():
        lines.append(f"| {m} | " + " | ".join(f"{v:+.3f}" for v in per_seed[0]) + " |")
    return lines


def _sizes_table(result: dict[str, Any]) -> list[str]:
    sizes = result["sizes"]
    noise = ", ".join(f"{x:g}" for x in SIZE_NOISE)
    lines = [
        f"Scoring cost against the number of clients (honest, label noise cycling {noise}; "
        f"{result['config']['timing_rounds']} round(s) per size; cell: evaluations per round, "
        f"seconds per round, scoring time / local training time; exact only up to {EXACT_LIMIT} "
        "clients):",
        "",
        "| method | " + " | ".join(f"{s['clients']} clients" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
        "| local training | " + " | ".join(f"{s['train_seconds']:.3f} s" for s in sizes) + " |",
    ]
    for m in sizes[0]["methods"]:
        cells = []
        for s in sizes:
            c = s["methods"][m]
            cells.append(
                "–"
                if c is None
                else f"{c['evaluations']:.0f} ev, {c['seconds']:.3f} s, {_pct(c['time_fraction'])}"
            )
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def to_markdown(result: dict[str, Any]) -> str:
    """The benchmark's figures as Markdown (tables and a line of targets)."""
    cfg = result["config"]
    n = len(cfg["clients"])
    clients = ", ".join(c["label"] for c in cfg["clients"])
    accuracy = ", ".join(f"{100 * a:.1f} %" for a in result["test_accuracy"])
    lines = [
        f"Contribution scores on {cfg['dataset']}, MLP hidden {cfg['hidden']}, {n} IID clients "
        f"({clients}), {cfg['aggregation']}, {cfg['epochs']} local epochs (SGD lr {cfg['lr']}, "
        f"momentum {cfg['momentum']}), {result['rounds']} rounds, seeds {result['seeds']}; "
        f"utility {cfg['utility']}; exact Shapley (2^k evaluations for the k updates the engine "
        f"uses; an excluded free-rider scores 0) is the ground truth. Local training "
        f"{result['train_seconds_per_round']:.3f} s per round; final test "
        f"accuracy {accuracy}. GTG-Shapley runs with {_params(result['gtg_params'])}.",
        "",
        *_method_table(result),
        "",
        *_sweep_table(result),
        "",
        *_accumulated_table(result),
    ]
    if result["sizes"]:
        lines += ["", *_sizes_table(result)]
    t = result["targets"]
    ranks = ", ".join(f"{m} {ok}" for m, ok in t["accumulated_spearman_ge_0.9"].items())
    lines += [
        "",
        f"Targets: GTG Spearman >= 0.95: {t['gtg_spearman_ge_0.95']}; GTG evaluations <= 20 % "
        f"of exact: {t['gtg_evaluations_le_20pct_of_exact']}; accumulated Spearman >= 0.9: "
        f"{ranks}.",
    ]
    return "\n".join(lines)
