"""A NumPyClient's ``client_fn`` as a Message-API ``ClientApp``.

Flower's legacy ``ClientApp(client_fn=...)`` speaks the old record layout (``fitins.parameters``),
which the Message-API strategies of ``flwr.serverapp.strategy`` do not send. This adapter runs a
NumPyClient (``get_parameters``, ``fit``, ``evaluate``) behind ``@app.train()`` and
``@app.evaluate()`` with the Message API's records: ``arrays`` (the same keys as the arrays
received), ``metrics`` (the fit/evaluate metrics plus ``num-examples``), so FedAvg and the other
strategies work with it unchanged, and so does ``fl-node node --app module:app`` (which finds the
``client_fn`` inside).

``fit`` gets the message's config plus ``server_round``: the on-chain round in a settled run, else
Flower's ``server-round``; the same number a native node gives ``fit``, so a deterministic app makes
the same update in both runtimes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fl_node.app.client import as_numpy_client
from fl_node.flower.wire import (
    ROUND,
    array_record,
    arrays_of,
    merged_config,
    scalar_metrics,
    single_array_record,
)

Mod = Callable[[Message, Context, Callable[[Message, Context], Message]], Message]


def numpy_client_app(
    client_fn: Callable[[Any], Any],
    mods: Sequence[Mod] = (),
    train_mods: Sequence[Mod] = (),
    evaluate_mods: Sequence[Mod] = (),
) -> ClientApp:
    """A Message-API ClientApp around ``client_fn(context) -> NumPyClient`` (or its
    ``.to_client()``); ``mods`` wrap every message, ``train_mods``/``evaluate_mods`` one kind."""
    app = ClientApp(mods=list(mods))

    def _fit_config(msg: Message) -> dict[str, Any]:
        config = merged_config(msg.content)
        number = config.get(ROUND, config.get("server-round", 0))
        config.setdefault("server_round", int(number))
        return config

    @app.train(mods=list(train_mods))
    def train(msg: Message, context: Context) -> Message:
        client = as_numpy_client(client_fn(context), "client_fn")
        _, record = single_array_record(msg.content, "the train message")
        params, count, metrics = client.fit(arrays_of(record), _fit_config(msg))
        content = RecordDict(
            {
                "arrays": array_record([np.asarray(p) for p in params], list(record.keys())),
                "metrics": MetricRecord(_with_count(metrics, count)),
            }
        )
        return Message(content, reply_to=msg)

    @app.evaluate(mods=list(evaluate_mods))
    def evaluate(msg: Message, context: Context) -> Message:
        client = as_numpy_client(client_fn(context), "client_fn")
        _, record = single_array_record(msg.content, "the evaluate message")
        loss, count, metrics = client.evaluate(arrays_of(record), merged_config(msg.content))
        values: dict[str, Any] = {
            **scalar_metrics(metrics),
            "loss": float(loss),
            "num-examples": int(count),
        }
        return Message(RecordDict({"metrics": MetricRecord(values)}), reply_to=msg)

    return app


def _with_count(metrics: Any, count: Any) -> dict[str, Any]:
    return {**scalar_metrics(metrics), "num-examples": int(count)}
