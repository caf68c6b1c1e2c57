"""Client apps for the training-worker tests, loaded by reference in worker processes."""

from __future__ import annotations

import os
import sys

import numpy as np

from fl_node.app.client import Context, Scalar


class Counting:
    """Adds its slot to every parameter; its metrics say how many fits this instance did and
    in which process."""

    def __init__(self, context: Context):
        self.slot = int(context.node_config.get("partition-id", 0))
        self.fits = 0

    def get_parameters(self, config: dict[str, Scalar]) -> list[np.ndarray]:
        return [np.zeros(3, dtype=np.float32)]

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[list[np.ndarray], int, dict[str, Scalar]]:
        self.fits += 1
        print("a print of the app's own", file=sys.stdout)  # must not reach the results pipe
        return [p + self.slot for p in parameters], 5, {"fits": self.fits, "pid": os.getpid()}

    def evaluate(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        return 0.0, 1, {}


def counting(context: Context) -> Counting:
    return Counting(context)


class Unpicklable(Exception):
    def __init__(self, message: str, lock: object):
        super().__init__(message)
        self.lock = lock


class Failing(Counting):
    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[list[np.ndarray], int, dict[str, Scalar]]:
        how = config.get("fail")
        if how == "value":
            raise ValueError("the app's own error")
        if how == "unpicklable":
            import threading

            raise Unpicklable("cannot travel", threading.Lock())
        if how == "exit":
            os._exit(3)
        return super().fit(parameters, config)


def failing(context: Context) -> Failing:
    return Failing(context)
