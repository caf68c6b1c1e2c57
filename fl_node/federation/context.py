"""What every process of a task derives identically from its config: data, model, hashes.

The dataset and its partition, the model spec and its initial weights are pure functions of the
task config (and its seed), so the sponsor, every client, the aggregator and any auditor build the
same objects, and the spec hashes published on-chain let each of them check it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from fl_node.artifacts.codec import encode_weights, hash_json, keccak
from fl_node.config import TaskConfig
from fl_node.training.data import Dataset, load_dataset
from fl_node.training.local import Evaluator, TrainConfig
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
    def train_config(self) -> TrainConfig:
        t = self.config.training
        return TrainConfig(
            epochs=t.epochs,
            batch_size=t.batch_size,
            lr=t.lr,
            momentum=t.momentum,
            weight_decay=t.weight_decay,
        )

    @cached_property
    def initial_weights(self) -> dict[str, np.ndarray]:
        model = build_model(self.model_spec, seed=derive_seed(self.config.seed, "init"))
        return model_weights(model)

    @cached_property
    def param_spec(self) -> ParamSpec:
        return ParamSpec.from_weights(self.initial_weights)

    @cached_property
    def initial_blob(self) -> bytes:
        return encode_weights(self.initial_weights, {"kind": "global", "round": 0})

    @cached_property
    def model_spec_hash(self) -> bytes:
        return bytes.fromhex(self.model_spec.spec_hash()[2:])

    @cached_property
    def validation_spec_hash(self) -> bytes:
        return bytes.fromhex(hash_json(self.dataset.spec())[2:])

    @cached_property
    def config_hash(self) -> bytes:
        return bytes.fromhex(hash_json(self.config.to_dict())[2:])

    @cached_property
    def validator(self) -> Evaluator:
        ds = self.dataset
        return Evaluator(self.model_spec, ds.x_val, ds.y_val)

    @cached_property
    def tester(self) -> Evaluator:
        ds = self.dataset
        return Evaluator(self.model_spec, ds.x_test, ds.y_test)

    def client_data(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Client ``index``'s private training data, after its quality profile (simulation)."""
        from fl_node.training.quality import apply_profile_to_data

        idx = self.partitions[index]
        ds = self.dataset
        rng = np.random.default_rng(derive_seed(self.config.seed, "client-data", index))
        return apply_profile_to_data(
            ds.x_train[idx], ds.y_train[idx], self.profile(index), ds.n_classes, rng
        )

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
