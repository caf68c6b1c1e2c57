"""The participant seam without a chain: loading client apps, Flower's shapes, the model layout."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from fl_node.app.client import ClientApp, Context, call_fit, load_reference, parse_settings
from fl_node.app.layout import ModelLayout, layout_of_weights, position_name
from fl_node.errors import ArtifactError, ConfigError


class Tiny:
    """A NumPyClient: two arrays, fit adds one."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def get_parameters(self, config):  # type: ignore[no-untyped-def]
        return [np.zeros((2, 3), dtype=np.float32), np.zeros(3, dtype=np.float32)]

    def fit(self, parameters, config):  # type: ignore[no-untyped-def]
        return [p + self.scale for p in parameters], 5, {"loss": 0.1}

    def evaluate(self, parameters, config):  # type: ignore[no-untyped-def]
        return 0.5, 5, {"accuracy": 0.75}


class Wrapped:
    """What Flower's ``NumPyClient.to_client()`` returns: a Client keeping ``numpy_client``."""

    def __init__(self, numpy_client: Tiny) -> None:
        self.numpy_client = numpy_client


def client_fn(context: Context) -> Tiny:
    return Tiny(scale=float(context.node_config.get("scale", 1.0)))


def wrapped_fn(context: Context) -> Wrapped:
    return Wrapped(Tiny())


class ClientApp_:
    def __init__(self, client_fn):  # type: ignore[no-untyped-def]
        def ffn(message, context):  # type: ignore[no-untyped-def]
            return client_fn(context)

        self._call = ffn


ClientApp_.__name__ = "ClientApp"


@pytest.fixture(autouse=True)
def module() -> types.ModuleType:
    mod = types.ModuleType("fake_participant")
    mod.client_fn = client_fn  # type: ignore[attr-defined]
    mod.wrapped_fn = wrapped_fn  # type: ignore[attr-defined]
    mod.Tiny = Tiny  # type: ignore[attr-defined]
    mod.instance = Tiny(scale=2.0)  # type: ignore[attr-defined]
    mod.flower_app = ClientApp_(client_fn)  # type: ignore[attr-defined]
    mod.number = 3  # type: ignore[attr-defined]
    sys.modules["fake_participant"] = mod
    yield mod
    del sys.modules["fake_participant"]


CTX = Context("0x" + "11" * 20, {"scale": 3.0})


@pytest.mark.parametrize(
    ("ref", "scale"),
    [
        ("fake_participant:client_fn", 3.0),  # client_fn(context) -> NumPyClient
        ("fake_participant:wrapped_fn", 1.0),  # client_fn(context) -> Flower's Client wrapper
        ("fake_participant:Tiny", 1.0),  # a NumPyClient class
        ("fake_participant:instance", 2.0),  # a NumPyClient
        ("fake_participant:flower_app", 3.0),  # a ClientApp wrapping client_fn
    ],
)
def test_every_shape_of_a_client_app_loads(ref: str, scale: float) -> None:
    app = ClientApp.load(ref)
    client = app.client(CTX)
    assert isinstance(client, Tiny)
    out = call_fit(client, client.get_parameters({}), {}, ref)
    assert out.num_examples == 5 and out.metrics == {"loss": 0.1}
    assert np.all(out.parameters[0] == scale)
    assert app.client(CTX) is client  # built once per node


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_colon", "expected module:attribute"),
        ("fake_participant:", "expected module:attribute"),
        ("no_such_module_anywhere:fn", "cannot import 'no_such_module_anywhere'"),
        ("fake_participant:missing", "has no attribute 'missing'"),
        ("fake_participant:number", r"expected a client_fn\(context\)"),
    ],
)
def test_bad_references_are_clear_errors(ref: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ClientApp.load(ref).client(CTX)


def test_a_client_fn_that_fails_or_returns_nonsense_is_a_clear_error() -> None:
    def broken(_context: Context) -> Tiny:
        raise RuntimeError("no GPU")

    with pytest.raises(ConfigError, match=r"client_fn failed: RuntimeError\('no GPU'\)"):
        ClientApp(broken, "mine").client(CTX)
    with pytest.raises(ConfigError, match="returned a str, not a client"):
        ClientApp(lambda _c: "hello", "mine").client(CTX)


def test_fit_results_are_checked() -> None:
    class Bad(Tiny):
        def fit(self, parameters, config):  # type: ignore[no-untyped-def]
            return parameters, 0, {}

    with pytest.raises(ConfigError, match="num_examples=0"):
        call_fit(Bad(), Bad().get_parameters({}), {}, "bad")

    class Short(Tiny):
        def fit(self, parameters, config):  # type: ignore[no-untyped-def]
            return parameters

    with pytest.raises(ConfigError, match=r"must return \(parameters, num_examples, metrics\)"):
        call_fit(Short(), [], {}, "short")


def test_node_settings_are_parsed_as_flower_reads_them() -> None:
    got = parse_settings(["partition-id=3", "lr=0.1", "augment=true", "name=site A"])
    assert got == {"partition-id": 3, "lr": 0.1, "augment": True, "name": "site A"}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_settings(["partition-id"])


def test_load_reference_reaches_nested_attributes() -> None:
    assert load_reference("fake_participant:Tiny.get_parameters") is Tiny.get_parameters


def test_the_layout_is_what_the_task_pins() -> None:
    params = Tiny().get_parameters({})
    layout = ModelLayout.of(params)
    assert layout.shapes == ((2, 3), (3,))
    assert layout.names == (position_name(0), position_name(1)) == ("p00000", "p00001")
    assert layout.describe() == "2 arrays, 9 parameters"
    named = layout.to_named(params)
    assert layout_of_weights(named) == layout
    assert [a.shape for a in layout.from_named(named)] == [(2, 3), (3,)]
    # the hash depends on the shapes and their order only
    assert ModelLayout.of([np.ones((2, 3)), np.ones(3)]).spec_hash() == layout.spec_hash()
    assert ModelLayout.of([np.ones(3), np.ones((2, 3))]).spec_hash() != layout.spec_hash()


def test_layout_mismatches_name_the_difference() -> None:
    layout = ModelLayout.of(Tiny().get_parameters({}))
    with pytest.raises(ConfigError, match="have 1 arrays; the task's model has 2"):
        layout.check([np.zeros((2, 3))])
    with pytest.raises(
        ConfigError, match=r"array 1 has shape \[4\]; the task's model expects \[3\]"
    ):
        layout.check([np.zeros((2, 3)), np.zeros(4)])
    with pytest.raises(ConfigError, match="must be a list of numpy arrays"):
        ModelLayout.of({"w": np.zeros(3)})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="empty list"):
        ModelLayout.of([])
    with pytest.raises(ArtifactError, match="not in positional form"):
        layout_of_weights({"fc.weight": np.zeros(3)})
