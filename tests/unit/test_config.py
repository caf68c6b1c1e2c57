"""The task config: one validated schema whose canonical hash goes on-chain.

The pinned hashes were computed from the bundled configs before the config became a pydantic
schema: a change to the config's canonical form (a renamed field, a changed default, an int where
a float was) changes every task's on-chain config hash, and must be deliberate.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from fl_node.aggregation import STRATEGIES, WEIGHTINGS
from fl_node.artifacts.codec import canonical_json
from fl_node.config import (
    MODES,
    UTILITIES,
    WAD,
    AggregationConfig,
    ClientConfig,
    DataConfig,
    FederationConfig,
    ModelConfig,
    ScoringConfig,
    TaskConfig,
    TrainingConfig,
    format_units,
    to_units,
)
from fl_node.configs import bundled, load_config
from fl_node.contribution import EXACT_MAX_PLAYERS, METHODS
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext
from fl_node.training.data import LOADERS
from fl_node.training.local import TrainConfig
from fl_node.training.models import ARCHS
from fl_node.training.partition import SCHEMES
from fl_node.training.quality import BEHAVIORS

PINNED = {
    "demo": "0x63f3884389a2c8da3856d83240ac8264eef33123e5c01eee372c1483796540a2",
    "invest8": "0xdf8287b6133e21ba4a52e2cfbf71f1f2e851f781188d60afb2bcd7ad9a9a3f1e",
    "quality8": "0xdcfcb37beedaebeb13f3b7875ca1eb7afff169d928221904d9ea5b0cf8bc3145",
    "tiny": "0x9ff70f1f65f288470801c82de54482f47c230f4075dca0503d1d7e481e4891aa",
    "tiny-market": "0xc188e20468d5eb9353c9043b879098ef86a3f08fd3a9bc1eee5528597b8e8864",
}
DEFAULT_HASH = "0x0c8e038d1909518f0ceaf0e99e84594ee26003b6b29fc535ebeaea519cf6e39f"


def _bad(data: dict[str, Any]) -> str:
    """The one-line message of a config that must be refused."""
    with pytest.raises(ConfigError) as info:
        TaskConfig.from_dict(data, source="config t")
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith("config t: "), message
    return message


def _patched(section: str | None, **changes: Any) -> dict[str, Any]:
    data = load_config("tiny").to_dict()
    if section is None:
        data.update(changes)
    else:
        data[section] = {**data[section], **changes}
    return data


# -- the canonical form ------------------------------------------------------------------------
def test_every_bundled_config_is_pinned() -> None:
    assert bundled() == sorted(PINNED)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_bundled_config_hashes_do_not_change(name: str) -> None:
    assert "0x" + load_config(name).config_hash.hex() == PINNED[name]


def test_default_config_hash_does_not_change() -> None:
    assert "0x" + TaskConfig().config_hash.hex() == DEFAULT_HASH


def test_to_dict_is_plain_data_in_field_order() -> None:
    config = load_config("demo")
    data = config.to_dict()
    assert list(data) == [f.name for f in dataclasses.fields(TaskConfig)]
    assert list(data["federation"]) == [f.name for f in dataclasses.fields(FederationConfig)]
    assert isinstance(data["clients"], list) and len(data["clients"]) == 8
    assert data["clients"][0] == {
        "name": "alice",
        "label_noise": 0.0,
        "max_samples": None,
        "behavior": "honest",
        "poison_scale": 5.0,
        "offer_tokens": 500000.0,
        "offer_base": 1000.0,
    }
    # YAML's 500000 is a float setting, so it is hashed as 500000.0; params are kept as written
    assert b'"offer_tokens":500000.0' in canonical_json(data)
    assert data["aggregation"] == {"strategy": "reputation", "weighting": "samples",
                                   "params": {"decay": 0.5, "tolerance": 2.0,
                                              "fallback": "median"}}  # fmt: skip
    assert TaskConfig.from_dict(data) == config


def test_ints_and_floats_of_a_float_setting_hash_alike() -> None:
    by_yaml = TaskConfig.from_dict({"federation": {"stake": 100, "budget": 500}})
    by_code = TaskConfig(federation=FederationConfig(stake=100, budget=500))
    assert by_yaml.federation.stake == 100.0 and isinstance(by_code.federation.stake, float)
    assert by_yaml.config_hash == by_code.config_hash


def test_round_trip_through_yaml(tmp_path: Path) -> None:
    for name in bundled():
        config = load_config(name)
        again = TaskConfig.load(config.save(tmp_path / f"{name}.yaml"))
        assert again == config
        assert again.config_hash == config.config_hash


def test_sections_are_frozen_dataclasses() -> None:
    config = load_config("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.federation.rounds = 5  # type: ignore[misc]
    assert dataclasses.is_dataclass(config) and dataclasses.is_dataclass(config.federation)
    assert config.validate() is config


# -- derived values ----------------------------------------------------------------------------
def test_derived_values() -> None:
    config = load_config("demo")
    assert config.mode_id == MODES["buyback"] == 1
    assert config.wei(0.05) == 5 * 10**16 and config.wei(1) == WAD
    assert config.units(1.5, 6) == 1_500_000
    assert to_units("0.1", 18) == 10**17 and to_units(1.5, 6) == 1_500_000
    assert format_units(1_500_000, 6) == "1.5" and format_units(10**18, 18) == "1"
    assert config.federation.start_clients == 8
    assert dataclasses.replace(config.federation, min_clients=3).start_clients == 3
    assert config.client(7).name == "mallory"
    tiny = load_config("tiny")
    assert tiny.client(2).behavior == "free_rider"
    with pytest.raises(ConfigError, match=r"client index 3 is outside 0\.\.2"):
        tiny.client(3)
    listed = tiny.replace(clients=tiny.clients[:1])
    assert listed.client(2) == ClientConfig()


# -- names: each registry's own list -----------------------------------------------------------
def test_every_known_name_is_accepted() -> None:
    for dataset in LOADERS:
        assert TaskConfig(data=DataConfig(dataset=dataset)).data.dataset == dataset
    for scheme in SCHEMES:
        DataConfig(partition=scheme)
    for arch in ARCHS:
        ModelConfig(arch=arch)
    for strategy in STRATEGIES:
        AggregationConfig(strategy=strategy)
    for weighting in WEIGHTINGS:
        AggregationConfig(strategy="fedavg", weighting=weighting)
    for method in METHODS:
        ScoringConfig(method=method)
    for utility in UTILITIES:
        ScoringConfig(utility=utility)
    for mode in MODES:
        FederationConfig(mode=mode)
    for behavior in BEHAVIORS:
        ClientConfig(behavior=behavior)


def test_every_parameter_of_the_strategies_and_methods_is_accepted() -> None:
    AggregationConfig(strategy="trimmed_mean", params={"trim": 0})
    AggregationConfig(strategy="trimmed_mean", params={"trim": 0.49})
    AggregationConfig(strategy="krum", params={"f": 0, "m": 3})
    ScoringConfig(method="mc_shapley", params={"permutations": 10})
    ScoringConfig(method="gtg_shapley", params=dict(METHODS["gtg_shapley"][1]))
    ScoringConfig(method="gtg_shapley", params={"max_evaluations": 100, "guided_depth": 1})


@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        ("data", {"dataset": "mnist"}, "data.dataset 'mnist' is not one of digits, synthetic"),
        ("data", {"partition": "shards"}, "data.partition 'shards' is not one of dirichlet, iid"),
        ("model", {"arch": "resnet"}, "model.arch 'resnet' is not one of cnn, logreg, mlp"),
        (
            "aggregation",
            {"strategy": "medain"},
            r"aggregation\.strategy 'medain' is not one of fedavg, krum, median, reputation, "
            r"trimmed_mean$",
        ),
        (
            "aggregation",
            {"weighting": "stakes"},
            "aggregation.weighting 'stakes' is not one of samples, stake, stake_reputation",
        ),
        (
            "scoring",
            {"method": "shapley"},
            "scoring.method 'shapley' is not one of loo, exact_shapley, mc_shapley",
        ),
        ("scoring", {"utility": "acc"}, "scoring.utility 'acc' is not one of neg_loss, accuracy"),
        (
            "federation",
            {"mode": "airdrop"},
            "federation.mode 'airdrop' is not one of direct, buyback, dividend",
        ),
        ("federation", {"mode": 1}, "federation.mode 1 is not one of"),
    ],
)
def test_unknown_names_are_refused(section: str, changes: dict[str, Any], message: str) -> None:
    assert re.search(message, _bad(_patched(section, **changes)))


def test_client_behaviors_are_checked() -> None:
    data = _patched(None, clients=[{"name": "a"}, {"behavior": "evil"}])
    assert "clients[1].behavior 'evil' is not one of copycat, free_rider, honest" in _bad(data)


# -- parameters: each implementation's own checks ----------------------------------------------
@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        (
            "aggregation",
            {"strategy": "trimmed_mean", "params": {"trim": 0.5}},
            r"aggregation\.params: trimmed_mean: trim must be a fraction within \[0, 0\.5\)",
        ),
        (
            "aggregation",
            {"strategy": "trimmed_mean", "params": {"trim": -0.1}},
            r"aggregation\.params: trimmed_mean: trim must be a fraction",
        ),
        (
            "aggregation",
            {"strategy": "krum", "params": {"f": -1}},
            r"aggregation\.params: krum: f \(byzantine clients\) must be an integer >= 0",
        ),
        (
            "aggregation",
            {"strategy": "krum", "params": {"m": 0}},
            r"aggregation\.params: krum: m \(updates averaged\) must be an integer >= 1",
        ),
        (
            "aggregation",
            {"strategy": "krum", "params": {"trim": 0.1}},
            r"aggregation\.params: unknown parameter\(s\) \['trim'\] for 'krum' \(allowed: f, m\)",
        ),
        (
            "aggregation",
            {"strategy": "fedavg", "params": {"trim": 0.1}},
            r"aggregation\.params: unknown parameter\(s\) \['trim'\] for 'fedavg'",
        ),
        (
            "aggregation",
            {"strategy": "median", "weighting": "stake"},
            r"aggregation\.weighting: weighting 'stake' applies only to fedavg",
        ),
        (
            "aggregation",
            {"strategy": "krum", "params": {"weighting": "stake"}},
            r"aggregation\.params: 'weighting' is not a parameter of 'krum'",
        ),
        (
            "scoring",
            {"method": "mc_shapley", "params": {"permutations": 0}},
            r"scoring\.params: mc_shapley: permutations must be an integer >= 1, got 0",
        ),
        (
            "scoring",
            {"method": "gtg_shapley", "params": {"truncation": -1}},
            r"scoring\.params: gtg_shapley: truncation must be finite and >= 0",
        ),
        (
            "scoring",
            {"method": "gtg_shapley", "params": {"max_evaluations": 1}},
            r"scoring\.params: gtg_shapley: max_evaluations must be an integer >= 2",
        ),
        (
            "scoring",
            {"method": "loo", "params": {"permutations": 10}},
            r"scoring\.params: loo: unknown parameters \['permutations'\] \(allowed: none\)",
        ),
        (
            "scoring",
            {"method": "cosine", "params": {"seed": 3}},
            r"scoring\.params: 'seed' is not a parameter of 'cosine'",
        ),
        ("scoring", {"params": {1: 2}}, r"scoring\.params\[1\] key must be a string"),
        ("aggregation", {"params": [1]}, r"aggregation\.params must be a mapping, got \[1\]"),
    ],
)
def test_parameters_are_checked_by_their_implementation(
    section: str, changes: dict[str, Any], message: str
) -> None:
    assert re.search(message, _bad(_patched(section, **changes)))


# -- numbers and types -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        (None, {"seed": -1}, r"seed must be an integer >= 0, got -1"),
        (None, {"seed": True}, r"seed must be an integer >= 0, got True"),
        (None, {"seed": "7"}, r"seed must be an integer >= 0, got '7'"),
        (None, {"name": 3}, r"name must be a string, got 3"),
        (None, {"store": ""}, r"store must be a non-empty string"),
        ("data", {"alpha": 0}, r"data\.alpha must be a finite number > 0, got 0"),
        ("data", {"min_samples": -1}, r"data\.min_samples must be an integer >= 0"),
        ("model", {"hidden": 0}, r"model\.hidden must be an integer >= 1, got 0"),
        ("training", {"epochs": 0}, r"training\.epochs must be an integer >= 1, got 0"),
        ("training", {"epochs": 1.0}, r"training\.epochs must be an integer >= 1, got 1\.0"),
        ("training", {"batch_size": 0}, r"training\.batch_size must be an integer >= 1"),
        ("training", {"lr": 0}, r"training\.lr must be a finite number > 0, got 0"),
        ("training", {"lr": "0.1"}, r"training\.lr must be a finite number > 0, got '0\.1'"),
        ("training", {"lr": float("inf")}, r"training\.lr must be a finite number > 0, got inf"),
        ("training", {"momentum": 1.0}, r"training\.momentum must be within \[0, 1\), got 1\.0"),
        ("training", {"weight_decay": -1}, r"training\.weight_decay must be a finite number >= 0"),
        ("federation", {"rounds": 0}, r"federation\.rounds must be an integer >= 1, got 0"),
        ("federation", {"rounds": "three"}, r"federation\.rounds must be an integer >= 1"),
        ("federation", {"rounds": 2**32}, r"federation\.rounds must be at most 2\*\*32 - 1"),
        ("federation", {"max_clients": 0}, r"federation\.max_clients must be an integer >= 1"),
        ("federation", {"min_clients": -1}, r"federation\.min_clients must be an integer >= 0"),
        ("federation", {"commit_window": 0}, r"federation\.commit_window must be an integer >= 1"),
        ("federation", {"reveal_window": 0}, r"federation\.reveal_window must be an integer >= 1"),
        ("federation", {"commit_window": 2**64}, r"commit_window must be at most 2\*\*64 - 1"),
        ("federation", {"challenge_window": -1}, r"federation\.challenge_window must be an"),
        ("federation", {"post_timeout": 0}, r"federation\.post_timeout must be an integer >= 1"),
        ("federation", {"arbiter_timeout": 0}, r"federation\.arbiter_timeout must be an integer"),
        ("federation", {"claim_window": 0}, r"federation\.claim_window must be an integer >= 1"),
        ("federation", {"stake_min": 0}, r"federation\.stake_min must be a finite number > 0"),
        ("federation", {"stake": -5}, r"federation\.stake must be a finite number > 0"),
        ("federation", {"join_bond": -1}, r"federation\.join_bond must be a finite number >= 0"),
        ("federation", {"aggregator_bond": -1}, r"federation\.aggregator_bond must be a finite"),
        ("federation", {"challenge_bond": -1}, r"federation\.challenge_bond must be a finite"),
        ("federation", {"reward_per_round": -1}, r"federation\.reward_per_round must be a"),
        ("federation", {"budget": -1}, r"federation\.budget must be a finite number >= 0"),
        ("federation", {"budget": float("nan")}, r"federation\.budget must be a finite number"),
        ("federation", {"payout_threshold": 0}, r"federation\.payout_threshold must be a finite"),
        ("federation", {"payout_cap": 1.5}, r"federation\.payout_cap must be within \[0, 1\]"),
        ("federation", {"grief_cap": -0.1}, r"federation\.grief_cap must be within \[0, 1\]"),
        ("federation", {"grief_ratio": -1}, r"federation\.grief_ratio must be a finite number >="),
        ("federation", {"allowlist": "yes"}, r"federation\.allowlist must be true or false"),
        ("federation", {"allowlist": 1}, r"federation\.allowlist must be true or false, got 1"),
        ("scoring", {"corr_multiplier": "x"}, r"scoring\.corr_multiplier must be a finite number"),
        ("scoring", {"mmc_multiplier": True}, r"scoring\.mmc_multiplier must be a finite number"),
    ],
)
def test_numbers_and_types(section: str | None, changes: dict[str, Any], message: str) -> None:
    assert re.search(message, _bad(_patched(section, **changes)))


@pytest.mark.parametrize(
    ("client", "message"),
    [
        ({"label_noise": 1.5}, r"clients\[0\]\.label_noise must be within \[0, 1\], got 1\.5"),
        ({"max_samples": 0}, r"clients\[0\]\.max_samples must be empty \(all\) or an integer >= 1"),
        ({"max_samples": 5.0}, r"clients\[0\]\.max_samples must be empty"),
        ({"poison_scale": -1}, r"clients\[0\]\.poison_scale must be a finite number >= 0"),
        ({"offer_tokens": -1, "offer_base": -1}, r"clients\[0\]\.offer_tokens must be a finite"),
        ({"name": 5}, r"clients\[0\]\.name must be a string"),
        (
            {"offer_tokens": 1000},
            r"clients\[0\]: offer_tokens \(1000\) and offer_base \(0\) must both be positive",
        ),
        ({"offer_base": 5}, r"clients\[0\]: offer_tokens \(0\) and offer_base \(5\) must both"),
        ({"colour": "red"}, r"clients\[0\]: unknown setting 'colour'"),
    ],
)
def test_client_settings(client: dict[str, Any], message: str) -> None:
    assert re.search(message, _bad(_patched(None, clients=[client])))


def test_empty_client_items_are_default_clients() -> None:
    config = TaskConfig.from_dict({"federation": {"max_clients": 3}, "clients": [None, {}]})
    assert config.clients == (ClientConfig(), ClientConfig())
    assert ClientConfig(max_samples=20).max_samples == 20


# -- structure and rules between fields --------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"foo": 1}, r"^config t: unknown setting 'foo' \(known: name, seed, store, data,"),
        ({"federation": {"roundz": 3}}, r"federation: unknown setting 'roundz' \(did you mean"),
        ({"federation": None}, r"federation must be a mapping, got None"),
        ({"federation": [1]}, r"federation must be a mapping"),
        ({"clients": "abc"}, r"clients must be a list of client settings, got 'abc'"),
        ({"clients": {"name": "a"}}, r"clients must be a list of client settings"),
        ({"clients": ["x"]}, r"clients\[0\] must be a mapping, got 'x'"),
        (
            {"federation": {"max_clients": 2}, "clients": [{}, {}, {}]},
            r"clients: 3 clients listed, more than federation\.max_clients \(2\)",
        ),
        (
            {"federation": {"max_clients": 4, "min_clients": 5}},
            r"federation: min_clients \(5\) must be between 0 \(all\) and max_clients \(4\)",
        ),
        (
            {"federation": {"stake": 5, "stake_min": 10}},
            r"federation: stake \(5\) must be >= stake_min \(10\)",
        ),
        (
            {"scoring": {"method": "exact_shapley"}, "federation": {"max_clients": 15}},
            rf"scoring\.method: exact_shapley .* at most {EXACT_MAX_PLAYERS}",
        ),
        (
            {"federation": {"rounds": 0, "max_clients": 0}},
            r"federation\.rounds must be an integer >= 1, got 0 \(and 1 more problem\)$",
        ),
    ],
)
def test_structure_and_cross_field_rules(data: dict[str, Any], message: str) -> None:
    assert re.search(message, _bad(data))


def test_rules_that_hold_are_accepted() -> None:
    config = TaskConfig.from_dict(
        {
            "federation": {"max_clients": EXACT_MAX_PLAYERS, "min_clients": 3, "stake": 10},
            "scoring": {"method": "exact_shapley"},
            "clients": [{"offer_tokens": 10, "offer_base": 1}, {}],
        }
    )
    assert config.federation.start_clients == 3
    assert TaskConfig.from_dict({"federation": {"min_clients": 8, "max_clients": 8}})


def test_the_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="config t: the top level must be a mapping"):
        TaskConfig.from_dict([1], source="config t")  # type: ignore[arg-type]


def test_errors_name_the_file_or_the_bundled_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("aggregation: {strategy: medain}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"config {path}: aggregation.strategy 'medain' is not one of fedavg, krum, median, "
        "reputation, trimmed_mean"
    )
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    path.write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(path)


# -- building in code validates too ------------------------------------------------------------
def test_constructors_and_replace_validate() -> None:
    config = load_config("tiny")
    with pytest.raises(ConfigError, match=r"^federation\.rounds must be an integer >= 1, got 0$"):
        dataclasses.replace(config.federation, rounds=0)
    with pytest.raises(ConfigError, match=r"^federation: unknown setting 'roundz'"):
        FederationConfig(roundz=3)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"^client\.behavior 'evil' is not one of"):
        ClientConfig(behavior="evil")
    with pytest.raises(ConfigError, match=r"^scoring\.params: mc_shapley: permutations"):
        ScoringConfig(method="mc_shapley", params={"permutations": -1})
    with pytest.raises(ConfigError, match=r"^config: clients: 3 clients listed, more than"):
        config.replace(federation=dataclasses.replace(config.federation, max_clients=2))
    with pytest.raises(ConfigError, match=r"^config: seed must be an integer >= 0"):
        config.replace(seed=-1)
    changed = config.replace(federation=dataclasses.replace(config.federation, rounds=5))
    assert changed.federation.rounds == 5 and changed.clients == config.clients


# -- one training configuration ----------------------------------------------------------------
def test_the_training_section_is_what_train_local_takes() -> None:
    config = load_config("tiny")
    assert TaskContext(config).train_config is config.training
    assert config.training == TrainingConfig(epochs=1, batch_size=32, lr=0.05, momentum=0.9)
    assert TrainingConfig() == TrainingConfig(
        epochs=2, batch_size=32, lr=0.1, momentum=0.9, weight_decay=0.0
    )


def test_train_config_keeps_its_former_defaults() -> None:
    old = TrainConfig()
    assert isinstance(old, TrainingConfig)
    assert (old.epochs, old.batch_size, old.lr, old.momentum, old.weight_decay) == (
        1,
        32,
        0.05,
        0.0,
        0.0,
    )
    assert TrainConfig(epochs=3, lr=0.2).epochs == 3
    with pytest.raises(ConfigError, match=r"training\.momentum must be within \[0, 1\)"):
        TrainConfig(momentum=1.0)
