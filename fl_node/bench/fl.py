"""``fl-node bench fl``: is federated training as good as training on the union of the data?

Without a chain (the offline runtime: the daemons' round engine, no transactions), on digits:
centralized training of the same model on the union of the clients' data (same number of passes
over the data as the federation) against FedAvg with 8 IID clients, with Dirichlet(0.5) label
skew, and with 2 of 8 clients poisoning (sign-flipped, scaled updates) under plain FedAvg and the
robust aggregators. Several seeds; mean and standard deviation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.config import TaskConfig
from fl_node.federation.context import TaskContext, derive_seed
from fl_node.federation.offline import run_offline
from fl_node.simulation.apps import offline_client
from fl_node.training.data import Dataset, load_dataset
from fl_node.training.local import Evaluator, TrainConfig, train_local
from fl_node.training.models import ModelSpec, build_model
from fl_node.training.params import ParamSpec, flatten, model_weights


@dataclass(frozen=True)
class Setting:
    name: str
    scheme: str = "iid"
    alpha: float = 0.5
    attackers: int = 0
    strategy: str = "fedavg"
    params: tuple[tuple[str, Any], ...] = ()


SETTINGS = (
    Setting("fedavg_iid"),
    Setting("fedavg_dirichlet_0.5", scheme="dirichlet"),
    Setting("fedavg_iid_2_poisoners", attackers=2),
    Setting("median_iid_2_poisoners", attackers=2, strategy="median"),
    Setting(
        "trimmed_mean_iid_2_poisoners",
        attackers=2,
        strategy="trimmed_mean",
        params=(("trim", 0.25),),
    ),
    Setting("krum_iid_2_poisoners", attackers=2, strategy="krum", params=(("f", 2), ("m", 4))),
    Setting("median_iid_clean", strategy="median"),
)


@dataclass(frozen=True)
class BenchConfig:
    clients: int = 8
    rounds: int = 10
    epochs: int = 2
    batch_size: int = 32
    lr: float = 0.1
    momentum: float = 0.9
    hidden: int = 64
    poison_scale: float = 5.0


def centralized(ds: Dataset, spec: ModelSpec, cfg: BenchConfig, seed: int) -> float:
    model = build_model(spec, seed=derive_seed(seed, "init"))
    weights = model_weights(model)
    train = TrainConfig(
        epochs=cfg.rounds * cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum
    )
    result = train_local(
        spec, weights, ds.x_train, ds.y_train, train, seed=derive_seed(seed, "central")
    )
    pspec = ParamSpec.from_weights(result.weights)
    return float(Evaluator(spec, ds.x_test, ds.y_test)(flatten(result.weights, pspec)).accuracy)


def setting_config(setting: Setting, cfg: BenchConfig, seed: int) -> TaskConfig:
    """The task config of one benchmark setting: the first ``attackers`` clients poison."""
    attackers = [
        {"name": f"poisoner-{i}", "behavior": "poison_signflip", "poison_scale": cfg.poison_scale}
        for i in range(setting.attackers)
    ]
    data = {"dataset": "digits", "partition": setting.scheme, "alpha": setting.alpha}
    training = {
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "momentum": cfg.momentum,
    }
    return TaskConfig.from_dict(
        {
            "name": f"bench-{setting.name}",
            "seed": seed,
            "data": data,
            "model": {"arch": "mlp", "hidden": cfg.hidden},
            "training": training,
            "federation": {"rounds": cfg.rounds, "max_clients": cfg.clients},
            "aggregation": {"strategy": setting.strategy, "params": dict(setting.params)},
            "clients": attackers,
        },
        source=f"bench setting {setting.name}",
    )


def federated(cfg: BenchConfig, setting: Setting, seed: int) -> tuple[float, float]:
    """(test accuracy after the last round, seconds per round): the simulated clients of the
    setting through the same round engine as the daemons (offline: no chain)."""
    ctx = TaskContext(setting_config(setting, cfg, seed))
    clients = [offline_client(ctx, i) for i in range(cfg.clients)]
    started = time.perf_counter()
    rounds = list(run_offline(ctx, ctx.layout, ctx.initial_blob, clients, cfg.rounds))
    per_round = (time.perf_counter() - started) / cfg.rounds
    return float(ctx.tester(rounds[-1].prepared.new_g).accuracy), per_round


def run_bench(
    seeds: list[int], cfg: BenchConfig, say: Callable[[str], None] = print
) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"centralized": []}
    seconds: dict[str, list[float]] = {}
    for seed in seeds:
        ds = load_dataset("digits", seed=seed)
        spec = ModelSpec(
            arch="mlp",
            n_features=ds.n_features,
            n_classes=ds.n_classes,
            hidden=cfg.hidden,
            image_shape=ds.image_shape,
        )
        runs["centralized"].append(centralized(ds, spec, cfg, seed))
        for setting in SETTINGS:
            acc, sec = federated(cfg, setting, seed)
            runs.setdefault(setting.name, []).append(acc)
            seconds.setdefault(setting.name, []).append(sec)
        say(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in runs.items()))
    means = {name: float(np.mean(v)) for name, v in runs.items()}
    summary = {
        name: {
            "mean": means[name],
            "std": float(np.std(v)),
            "runs": v,
            "seconds_per_round": float(np.mean(seconds[name])) if name in seconds else None,
        }
        for name, v in runs.items()
    }
    central = means["centralized"]
    clean = means["fedavg_iid"]
    checks = {
        "iid_within_1pt_of_centralized": central - clean <= 0.01,
        "dirichlet_within_3pt_of_centralized": central - means["fedavg_dirichlet_0.5"] <= 0.03,
        "robust_within_2pt_of_clean_under_poisoning": {
            s: clean - means[f"{s}_iid_2_poisoners"] <= 0.02
            for s in ("median", "trimmed_mean", "krum")
        },
        "fedavg_breaks_under_poisoning": clean - means["fedavg_iid_2_poisoners"] > 0.02,
    }
    return {"seeds": seeds, "config": cfg.__dict__, "accuracy": summary, "targets": checks}


def to_markdown(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        f"Test accuracy on digits, MLP, {cfg['clients']} clients, {cfg['rounds']} rounds of "
        f"{cfg['epochs']} local epochs, seeds {result['seeds']} (mean ± std):",
        "",
        "| setting | accuracy | s / round |",
        "|---|---|---|",
    ]
    for name, row in result["accuracy"].items():
        sec = row["seconds_per_round"]
        sec_text = "" if sec is None else f"{sec:.3f}"
        lines.append(
            f"| {name} | {100 * row['mean']:.2f} ± {100 * row['std']:.2f} % | {sec_text} |"
        )
    lines.append("")
    lines.append("Targets: " + ", ".join(f"{k}: {v}" for k, v in result["targets"].items()))
    return "\n".join(lines)
