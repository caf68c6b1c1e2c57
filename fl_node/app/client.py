"""The participant's side of the seam: its own model and data, behind Flower's client shape.

A participant writes a client app the way it would for Flower: a ``NumPyClient`` with
``get_parameters``, ``fit`` and ``evaluate`` (numpy arrays in, numpy arrays out), built by a
``client_fn(context)``. The node loads it from a reference ``module:attribute`` and does
everything else (fetch the parent model, check its hash, stake, upload, commit, reveal, claim);
the data never leaves the app. An existing Flower client works unchanged: ``client_fn`` may return
the ``NumPyClient`` itself or Flower's ``Client`` made by ``.to_client()``, and a Flower
``ClientApp`` is opened to find the ``client_fn`` it wraps.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from fl_node.errors import ConfigError

#: Flower's config values: scalars only.
Scalar = bool | bytes | float | int | str
Parameters = list[np.ndarray]


@runtime_checkable
class NumPyClient(Protocol):
    """Flower's ``NumPyClient`` shape: what a participant's app implements."""

    def get_parameters(self, config: dict[str, Scalar]) -> Parameters: ...

    def fit(
        self, parameters: Parameters, config: dict[str, Scalar]
    ) -> tuple[Parameters, int, dict[str, Scalar]]: ...

    def evaluate(
        self, parameters: Parameters, config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]: ...


@dataclass
class Context:
    """What the node tells the app (the attributes of Flower's ``Context`` apps read)."""

    node_id: str  # the participant's address
    node_config: dict[str, Scalar] = field(default_factory=dict)  # this node's own settings
    run_config: dict[str, Scalar] = field(default_factory=dict)  # the task's settings for apps
    run_id: int = 0  # the on-chain task id
    state: dict[str, Any] = field(default_factory=dict)  # the app's scratchpad, never shared


ClientFn = Callable[[Context], Any]


@dataclass(frozen=True)
class FitResult:
    parameters: Parameters
    num_examples: int
    metrics: dict[str, Scalar]


def parse_settings(items: Sequence[str], what: str = "--node-config") -> dict[str, Scalar]:
    """``key=value`` pairs as Flower reads them: ints, floats, true/false, else strings."""
    out: dict[str, Scalar] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {item!r}: expected key=value")
        out[key.strip()] = _scalar(raw.strip())
    return out


def _scalar(text: str) -> Scalar:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def load_reference(ref: str, what: str = "--app") -> Any:
    """The object a ``module:attribute`` reference names (the module may be a file path's
    folder's module: the current folder is importable)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{what} {ref!r}: expected module:attribute, e.g. mypkg.client:client_fn")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{what} {ref!r}: cannot import {module_name!r} ({exc})") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{what} {ref!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def client_fn_of(obj: Any, ref: str = "the app") -> ClientFn:
    """A ``client_fn(context)`` from what the reference names: a function, a NumPyClient class
    or instance, or a Flower ``ClientApp`` (whose wrapped ``client_fn`` is found)."""
    if inspect.isclass(obj):
        if not _looks_like_client(obj):
            raise ConfigError(f"{ref} is a class without get_parameters/fit/evaluate")
        return lambda _context: obj()
    if _looks_like_client(obj):
        return lambda _context: obj
    wrapped = _flower_client_fn(obj)
    if wrapped is not None:
        return wrapped
    if callable(obj):
        return obj
    raise ConfigError(
        f"{ref} is a {type(obj).__name__}: expected a client_fn(context), a NumPyClient, or a "
        "Flower ClientApp"
    )


def _flower_client_fn(obj: Any) -> ClientFn | None:
    """The ``client_fn`` a Flower ``ClientApp`` wraps (kept in the closure of its handler: the
    legacy ``ClientApp(client_fn)``, or the ``@app.train()`` function of a Message-API app built
    around one, e.g. ``fl_node.flower.numpy_client_app``)."""
    if type(obj).__name__ != "ClientApp":
        return None
    seen: set[int] = set()
    stack = [getattr(obj, "_call", None), *getattr(obj, "_registered_funcs", {}).values()]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        for inner in (getattr(fn, "func", None), getattr(fn, "__wrapped__", None)):
            stack.append(inner)
        code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None) or ()
        names = code.co_freevars if code is not None else ()
        for name, cell in zip(names, cells, strict=False):
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if name == "client_fn" and callable(value):
                return value
            if callable(value):
                stack.append(value)
    raise ConfigError(
        "this Flower ClientApp does not expose its client_fn: point --app at the client_fn "
        "itself (module:client_fn)"
    )


def _looks_like_client(obj: Any) -> bool:
    return all(callable(getattr(obj, m, None)) for m in ("get_parameters", "fit", "evaluate"))


def as_numpy_client(made: Any, ref: str = "the app") -> NumPyClient:
    """The NumPyClient behind what ``client_fn`` returned (Flower's ``Client`` wrappers made by
    ``NumPyClient.to_client()`` keep it as ``numpy_client``)."""
    inner = getattr(made, "numpy_client", None)
    if inner is not None and _looks_like_client(inner):
        return inner
    if _looks_like_client(made):
        return made
    raise ConfigError(
        f"{ref} returned a {type(made).__name__}, not a client: it needs get_parameters, fit and "
        "evaluate (Flower's NumPyClient)"
    )


@dataclass
class ClientApp:
    """A participant's app, loaded and ready: builds its client once per node."""

    client_fn: ClientFn
    name: str = "client app"
    _client: NumPyClient | None = None

    @classmethod
    def load(cls, ref: str) -> ClientApp:
        return cls(client_fn_of(load_reference(ref), ref), name=ref)

    def client(self, context: Context) -> NumPyClient:
        if self._client is None:
            try:
                made = self.client_fn(context)
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(f"{self.name}: client_fn failed: {exc!r}") from exc
            self._client = as_numpy_client(made, self.name)
        return self._client


def call_fit(
    client: NumPyClient, parameters: Parameters, config: dict[str, Scalar], name: str
) -> FitResult:
    """``client.fit`` with its result checked (a tuple of arrays, a positive count, metrics)."""
    out = client.fit([np.array(p, copy=True) for p in parameters], dict(config))
    if not isinstance(out, tuple) or len(out) != 3:
        raise ConfigError(f"{name}: fit must return (parameters, num_examples, metrics)")
    params, count, metrics = out
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ConfigError(f"{name}: fit returned num_examples={count!r}; expected an int >= 1")
    if not isinstance(metrics, Mapping):
        raise ConfigError(f"{name}: fit's metrics must be a dict, got {type(metrics).__name__}")
    return FitResult(list(params), int(count), dict(metrics))
