"""A participant's own client app, as someone outside this project would write it: plain numpy,
its own model code and its own private data, in Flower's NumPyClient shape (no fl_node import).

It trains the model of the ``tiny`` task (an MLP 20 -> 16 -> 4, arrays in the order bias1,
weight1, bias2, weight2) on 150 samples of its own: four Gaussian clusters drawn from its own
seed. ``wrong_model`` is the same app with 8 hidden units: it builds another model.
"""

from __future__ import annotations

import numpy as np

FEATURES, CLASSES, SAMPLES = 20, 4, 150


class NumpyMLP:
    def __init__(self, hidden: int = 16, seed: int = 2024):
        rng = np.random.default_rng(seed)
        centers = rng.normal(0.0, 2.0, size=(CLASSES, FEATURES))
        self.y = rng.integers(0, CLASSES, size=SAMPLES)
        self.x = (centers[self.y] + rng.normal(0.0, 1.0, size=(SAMPLES, FEATURES))).astype(
            np.float32
        )
        self.hidden = hidden
        self.seed = seed

    def get_parameters(self, config):
        rng = np.random.default_rng(self.seed)
        return [
            np.zeros(self.hidden, dtype=np.float32),
            (rng.normal(0, 0.1, size=(self.hidden, FEATURES))).astype(np.float32),
            np.zeros(CLASSES, dtype=np.float32),
            (rng.normal(0, 0.1, size=(CLASSES, self.hidden))).astype(np.float32),
        ]

    def _forward(self, params, x):
        b1, w1, b2, w2 = params
        h = np.maximum(x @ w1.T + b1, 0.0)
        logits = h @ w2.T + b2
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return h, p / p.sum(axis=1, keepdims=True)

    def fit(self, parameters, config):
        b1, w1, b2, w2 = (np.array(p, dtype=np.float64) for p in parameters)
        rng = np.random.default_rng(self.seed + int(config.get("server_round", 0)))
        lr = 0.05
        for _ in range(2):
            for batch in np.array_split(rng.permutation(SAMPLES), 5):
                x, y = self.x[batch].astype(np.float64), self.y[batch]
                h, p = self._forward((b1, w1, b2, w2), x)
                grad = p.copy()
                grad[np.arange(len(y)), y] -= 1.0
                grad /= len(y)
                gw2, gb2 = grad.T @ h, grad.sum(axis=0)
                dh = (grad @ w2) * (h > 0)
                gw1, gb1 = dh.T @ x, dh.sum(axis=0)
                b1, w1, b2, w2 = b1 - lr * gb1, w1 - lr * gw1, b2 - lr * gb2, w2 - lr * gw2
        out = [a.astype(np.float32) for a in (b1, w1, b2, w2)]
        return out, SAMPLES, {}

    def evaluate(self, parameters, config):
        _, p = self._forward(parameters, self.x)
        loss = float(-np.log(p[np.arange(SAMPLES), self.y] + 1e-12).mean())
        accuracy = float((p.argmax(axis=1) == self.y).mean())
        return loss, SAMPLES, {"accuracy": accuracy}


def client_fn(context):
    return NumpyMLP()


def wrong_model(context):
    return NumpyMLP(hidden=8)
