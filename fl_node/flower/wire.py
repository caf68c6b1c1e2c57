"""What Flower carries, in fl-node's terms: the config keys a settled run adds to Flower's
messages, and the conversions between Flower's ``ArrayRecord`` and the FLW1 wire format.

An update that Flower carries is encoded exactly as a native ``fl-node node`` encodes the result
of its app's ``fit`` (both call :func:`fl_node.federation.node.encode_update`): the arrays in the
app's order under positional names, float32, with the metadata ``{"kind": "update", "round",
"client", "num_samples"}``. So a client's update has one hash whichever runtime carried it, and the
aggregator can check what Flower delivered against what the client committed on-chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

from fl_node.app.layout import ModelLayout
from fl_node.artifacts.codec import decode_weights, keccak
from fl_node.errors import ConfigError
from fl_node.federation.node import encode_update

#: Keys the settled strategy adds to the train config Flower sends (a ConfigRecord).
TASK_ID = "fl-node.task-id"
ROUND = "fl-node.round"  # the on-chain round (Flower's server round may differ on a resumed task)
ACTION = "fl-node.action"  # "train" (default), "join" or "settle"
WEIGHT_KEY = "fl-node.weight-key"  # the reply metric the samples weighting reads
#: The ConfigRecord a settled client adds to its reply.
REPLY_RECORD = "fl-node"
#: The ConfigRecord the client-side DP mod adds to its reply (the privacy spent by this update).
DP_RECORD = "fl-node.dp"

JOIN, SETTLE, TRAIN = "join", "settle", "train"
#: Flower's default weighting metric (``FedAvg(weighted_by_key=...)``).
DEFAULT_WEIGHT_KEY = "num-examples"


def update_hash(
    layout: ModelLayout, parameters: Sequence[Any], number: int, client: str, num_samples: int
) -> bytes:
    return keccak(encode_update(layout, parameters, number, client, num_samples))


def num_samples_of(value: Any, key: str) -> int:
    """A reply's weighting metric as the update's ``num_samples`` (a positive integer)."""
    number = float(value) if isinstance(value, Real) and not isinstance(value, bool) else None
    if number is None or not np.isfinite(number):
        raise ConfigError(f"the reply's metric {key!r} is {value!r}: not a number of examples")
    if number != int(number) or number < 1:
        raise ConfigError(
            f"the reply's metric {key!r} is {value!r}: the number of training examples must be "
            "a positive integer (it weights the update)"
        )
    return int(number)


def arrays_of(record: ArrayRecord) -> list[np.ndarray]:
    """The record's arrays, in its order (the app's order)."""
    return [np.asarray(a) for a in record.to_numpy_ndarrays()]


def array_record(arrays: Sequence[Any], keys: Sequence[str] | None = None) -> ArrayRecord:
    """An ArrayRecord of ``arrays`` under ``keys`` (Flower's ``"0"``, ``"1"``, ... by default)."""
    names = [str(i) for i in range(len(arrays))] if keys is None else list(keys)
    if len(names) != len(arrays):
        raise ConfigError(f"{len(arrays)} arrays for {len(names)} keys")
    return ArrayRecord(
        {k: Array(np.ascontiguousarray(a)) for k, a in zip(names, arrays, strict=True)}
    )


def model_record(blob: bytes, layout: ModelLayout, keys: Sequence[str] | None) -> ArrayRecord:
    """A global model blob as the ArrayRecord Flower sends (under the app's own keys)."""
    weights, _ = decode_weights(blob, expected=layout.param_spec)
    return array_record(layout.from_named(weights), keys)


def single_array_record(content: RecordDict, what: str) -> tuple[str, ArrayRecord]:
    records = list(content.array_records.items())
    if len(records) != 1:
        raise ConfigError(f"{what} holds {len(records)} ArrayRecords; a settled update needs one")
    return records[0]


def settled_config(content: RecordDict) -> ConfigRecord | None:
    """The ConfigRecord of a message that carries the settled strategy's keys (None: a message of
    a plain Flower run)."""
    for record in content.config_records.values():
        if TASK_ID in record:
            return record
    return None


def merged_config(content: RecordDict) -> dict[str, Any]:
    """Every ConfigRecord of a message, merged (what a NumPyClient's ``config`` is)."""
    out: dict[str, Any] = {}
    for record in content.config_records.values():
        out.update(dict(record))
    return out


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float | int]:
    """The numeric entries of a metrics dict (what a MetricRecord holds)."""
    out: dict[str, float | int] = {}
    for key, value in metrics.items():
        if isinstance(value, bool | Integral):
            out[key] = int(value)
        elif isinstance(value, Real):
            out[key] = float(value)
    return out
