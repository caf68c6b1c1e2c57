"""The model architectures a task can name, built deterministically from a seed.

A task publishes :meth:`ModelSpec.spec_hash` on-chain, and every participant builds the same
initial weights from the task seed, so the round-0 global model needs no trusted upload. The
models are small on purpose: a whole federation trains on two CPU cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fl_node.artifacts.codec import hash_json
from fl_node.errors import ConfigError

ARCHS = ("cnn", "logreg", "mlp")


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines a model's architecture (not its weights)."""

    arch: str
    n_features: int
    n_classes: int
    hidden: int = 64
    image_shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "n_features": int(self.n_features),
            "n_classes": int(self.n_classes),
            "hidden": int(self.hidden),
            "image_shape": None if self.image_shape is None else [int(s) for s in self.image_shape],
        }

    def spec_hash(self) -> str:
        """keccak of the canonical JSON of :meth:`to_dict` (published with the task)."""
        return hash_json(self.to_dict())

    def validate(self) -> ModelSpec:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown model arch {self.arch!r}; known: {', '.join(ARCHS)}")
        if self.n_features < 1:
            raise ConfigError(f"n_features must be >= 1, got {self.n_features}")
        if self.n_classes < 2:
            raise ConfigError(f"n_classes must be >= 2, got {self.n_classes}")
        if self.hidden < 1:
            raise ConfigError(f"model hidden size must be >= 1, got {self.hidden}")
        if self.arch == "cnn":
            shape = self.image_shape
            if shape is None:
                raise ConfigError(
                    "arch 'cnn' needs an image dataset (image_shape); use 'mlp' or 'logreg'"
                )
            if len(shape) != 3 or min(shape) < 1 or shape[1] < 4 or shape[2] < 4:
                raise ConfigError(
                    f"arch 'cnn' needs image_shape (channels, height, width) with height and "
                    f"width >= 4, got {tuple(shape)}"
                )
            if math.prod(shape) != self.n_features:
                raise ConfigError(
                    f"image_shape {tuple(shape)} does not hold n_features={self.n_features}"
                )
        return self


class _TinyCNN(nn.Module):
    """Two 3x3 conv + max-pool stages and a small dense head, over flat image features."""

    def __init__(self, image_shape: tuple[int, ...], hidden: int, n_classes: int) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = (channels, height, width)
        self.features = nn.Sequential(
            nn.Conv2d(channels, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        flat = 16 * (height // 4) * (width // 4)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x.reshape(-1, *self.image_shape)))
        return out


def _make(spec: ModelSpec) -> nn.Module:
    if spec.arch == "logreg":
        return nn.Sequential(nn.Linear(spec.n_features, spec.n_classes))
    if spec.arch == "mlp":
        return nn.Sequential(
            nn.Linear(spec.n_features, spec.hidden),
            nn.ReLU(),
            nn.Linear(spec.hidden, spec.n_classes),
        )
    assert spec.image_shape is not None  # validated
    return _TinyCNN(spec.image_shape, spec.hidden, spec.n_classes)


def build_model(spec: ModelSpec, seed: int) -> nn.Module:
    """A fresh model whose initial weights depend only on ``spec`` and ``seed``.

    The global torch RNG is seeded inside a fork, so building a model neither depends on nor
    disturbs the caller's random state.
    """
    spec.validate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) % (2**63))
        model = _make(spec)
    return model.float()
