"""What every process of a task derives identically from its config: data, model, hashes.

For the bundled example tasks (digits, synthetic), the dataset and its partition, the model and
its initial weights are pure functions of the task config (and its seed), so the sponsor, every
client, the aggregator and any auditor build the same objects. On the wire a model is its list of
arrays in the app's order (``fl_node.app.layout``): the initial model's layout hash is the task's
on-chain model spec hash, and the config's canonical hash its config hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from fl_node.app.layout import ModelLayout
from fl_node.artifacts.codec import encode_weights, hash_json, keccak
from fl_node.config import TaskConfig, TrainingConfig
from fl_node.training.data import Dataset, load_dataset
from fl_node.training.local import Evaluator
from fl_node.training.models import ModelSpec, build_model
from fl_node.training.params import ParamSpec, model_weights
from fl_node.training.partition import partition

if TYPE_CHECKING:
    from fl_node.training.quality import ClientProfile


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, stable across machines and Python versions."""
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


@dataclass
class TaskContext:
    config: TaskConfig

    @cached_property
    def dataset(self) -> Dataset:
        return load_dataset(self.config.data.dataset, seed=self.config.seed)

    @cached_property
    def partitions(self) -> list[np.ndarray]:
        data = self.config.data
        return partition(
            self.dataset.y_train,
            self.config.federation.max_clients,
            data.partition,
            seed=derive_seed(self.config.seed, "partition"),
            alpha=data.alpha,
            min_samples=data.min_samples,
        )

    @cached_property
    def model_spec(self) -> ModelSpec:
        ds = self.dataset
        return ModelSpec(
            arch=self.config.model.arch,
            n_features=ds.n_features,
            n_classes=ds.n_classes,
            hidden=self.config.model.hidden,
            image_shape=ds.image_shape,
        )

    @cached_property
    def train_config(self) -> TrainingConfig:
        """Local training settings: the config's ``training`` section, as train_local takes it."""
        return self.config.training

    @cached_property
    def initial_weights(self) -> dict[str, np.ndarray]:
        model = build_model(self.model_spec, seed=derive_seed(self.config.seed, "init"))
        return model_weights(model)

    @cached_property
    def torch_names(self) -> tuple[str, ...]:
        """The model's own tensor names, sorted: the order of its arrays on the wire."""
        return tuple(sorted(self.initial_weights))

    @cached_property
    def initial_parameters(self) -> list[np.ndarray]:
        """The initial model as an app sees it: its arrays in order."""
        return [self.initial_weights[n] for n in self.torch_names]

    @cached_property
    def layout(self) -> ModelLayout:
        return ModelLayout.of(self.initial_parameters)

    @cached_property
    def param_spec(self) -> ParamSpec:
        """The wire layout (positional names) as the engine flattens it."""
        return self.layout.param_spec

    @cached_property
    def initial_blob(self) -> bytes:
        named = self.layout.to_named(self.initial_parameters)
        return encode_weights(named, {"kind": "global", "round": 0})

    @cached_property
    def model_spec_hash(self) -> bytes:
        return self.layout.spec_hash()

    @cached_property
    def validation_spec_hash(self) -> bytes:
        return bytes.fromhex(hash_json(self.dataset.spec())[2:])

    @cached_property
    def config_hash(self) -> bytes:
        return self.config.config_hash

    @cached_property
    def validator(self) -> Evaluator:
        ds = self.dataset
        return Evaluator(self.model_spec, ds.x_val, ds.y_val)

    @cached_property
    def tester(self) -> Evaluator:
        ds = self.dataset
        return Evaluator(self.model_spec, ds.x_test, ds.y_test)

    def partition_data(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Slice ``index`` of the training split (the example app's private data)."""
        idx = self.partitions[index]
        ds = self.dataset
        return ds.x_train[idx], ds.y_train[idx]

    def profile(self, index: int) -> ClientProfile:
        from fl_node.training.quality import ClientProfile

        c = self.config.client(index)
        return ClientProfile(
            label_noise=c.label_noise,
            max_samples=c.max_samples,
            behavior=c.behavior,
            poison_scale=c.poison_scale,
        )


def blob_hash(blob: bytes) -> bytes:
    return keccak(blob)
