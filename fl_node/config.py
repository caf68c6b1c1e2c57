"""The task configuration: one YAML file that every participant of a task reads.

It fixes everything that must be identical on every machine for the run to be reproducible and
auditable: data and partition, model, local training, federation parameters (round timing, stakes,
rewards, payout clip, distribution mode), aggregation, contribution scoring, and, for simulations,
each client's quality profile. Its canonical hash is published on-chain with the task.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from fl_node.errors import ConfigError

WAD = 10**18
MODES = {"direct": 0, "buyback": 1, "dividend": 2}
UTILITIES = ("neg_loss", "accuracy")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "digits"
    partition: str = "iid"  # iid | dirichlet | quantity
    alpha: float = 0.5  # Dirichlet concentration (non-IID label skew)
    min_samples: int = 10


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "mlp"  # mlp | cnn | logreg
    hidden: int = 128


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 2
    batch_size: int = 32
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0


@dataclass(frozen=True)
class FederationConfig:
    rounds: int = 10
    max_clients: int = 8
    min_clients: int = 0  # participants needed before round 1 opens; 0: all max_clients
    commit_window: int = 120  # seconds; commits close early once every participant committed
    reveal_window: int = 30  # seconds for reveals after commits close
    challenge_window: int = 2  # seconds during which a posted round can be challenged
    post_timeout: int = 600  # seconds after the reveal window before anyone may abort the round
    arbiter_timeout: int = 3_600  # seconds the arbiter has to decide a challenge
    claim_window: int = 7 * 86_400  # seconds after a round ends to settle and claim it
    stake: float = 100.0  # base tokens each client stakes per round
    stake_min: float = 10.0
    join_bond: float = 10.0  # base tokens locked while a client holds a seat in the task
    aggregator_bond: float = 500.0  # base tokens the aggregator bonds (slashed if a post is voided)
    challenge_bond: float = 100.0  # base tokens a challenger bonds (lost if the post is kept)
    reward_per_round: float = 1_000.0
    budget: float = 12_000.0  # escrowed by the sponsor: rewards plus positive stake payouts
    payout_threshold: float = 1_000.0  # payout_factor = min(1, threshold / total at risk)
    payout_cap: float = 0.05  # clip of the per-round payout, as a fraction of the stake
    mode: str = "direct"  # reward distribution: direct | buyback | dividend
    allowlist: bool = False  # only clients the sponsor allows may join
    grief_cap: float = 0.0  # fraction of a round stake the sponsor may burn (0: no griefing)
    grief_ratio: float = 0.0  # what the sponsor pays per token it burns (0: free punishment)

    @property
    def start_clients(self) -> int:
        """Participants needed before the first round opens."""
        return self.min_clients or self.max_clients


@dataclass(frozen=True)
class AggregationConfig:
    strategy: str = "fedavg"  # fedavg | median | trimmed_mean | krum
    weighting: str = "samples"  # samples | stake | stake_reputation | uniform (fedavg only)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringConfig:
    method: str = "loo"  # loo | mc_shapley | gtg_shapley | exact_shapley | cosine | data_size
    utility: str = "neg_loss"  # neg_loss | accuracy, measured on the validation set
    corr_multiplier: float = 0.5  # Numerai: payout = clip(f * (0.5 CORR + 2 MMC))
    mmc_multiplier: float = 2.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientConfig:
    """A simulated client's quality knobs (see fl_node.training.quality.ClientProfile)."""

    name: str = ""
    label_noise: float = 0.0
    max_samples: int | None = None
    behavior: str = "honest"  # honest | free_rider | copycat | poison_random | poison_signflip
    poison_scale: float = 5.0
    offer_tokens: float = 0.0  # client tokens put on its market at registration (0: no market)
    offer_base: float = 0.0  # base tokens paired with them (sets the opening price)


@dataclass(frozen=True)
class TaskConfig:
    name: str = "digits"
    seed: int = 7
    store: str = "file://./store"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    aggregation: AggregationConfig = field(default_factory=AggregationConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    clients: tuple[ClientConfig, ...] = ()

    # -- validation ------------------------------------------------------------------------
    def validate(self) -> TaskConfig:
        fed = self.federation
        checks: list[tuple[bool, str]] = [
            (fed.rounds >= 1, "federation.rounds must be >= 1"),
            (fed.max_clients >= 1, "federation.max_clients must be >= 1"),
            (
                0 <= fed.min_clients <= fed.max_clients,
                "federation.min_clients must be between 0 (all) and max_clients",
            ),
            (fed.commit_window >= 1, "federation.commit_window must be >= 1 second"),
            (fed.reveal_window >= 1, "federation.reveal_window must be >= 1 second"),
            (fed.challenge_window >= 0, "federation.challenge_window must be >= 0"),
            (fed.post_timeout >= 1, "federation.post_timeout must be >= 1 second"),
            (fed.arbiter_timeout >= 1, "federation.arbiter_timeout must be >= 1 second"),
            (fed.claim_window >= 1, "federation.claim_window must be >= 1 second"),
            (fed.stake >= fed.stake_min > 0, "need federation.stake >= stake_min > 0"),
            (
                min(fed.join_bond, fed.aggregator_bond, fed.challenge_bond) >= 0,
                "federation bonds (join_bond, aggregator_bond, challenge_bond) must be >= 0",
            ),
            (0 <= fed.grief_cap <= 1, "federation.grief_cap must be within [0, 1]"),
            (fed.grief_ratio >= 0, "federation.grief_ratio must be >= 0"),
            (fed.reward_per_round >= 0, "federation.reward_per_round must be >= 0"),
            (fed.budget >= 0, "federation.budget must be >= 0"),
            (fed.payout_threshold > 0, "federation.payout_threshold must be > 0"),
            (0 <= fed.payout_cap <= 1, "federation.payout_cap must be within [0, 1]"),
            (fed.mode in MODES, f"federation.mode must be one of {sorted(MODES)}"),
            (self.scoring.utility in UTILITIES, f"scoring.utility must be one of {UTILITIES}"),
            (
                len(self.clients) <= fed.max_clients,
                "more clients listed than federation.max_clients",
            ),
            (self.training.epochs >= 1, "training.epochs must be >= 1"),
            (self.training.batch_size >= 1, "training.batch_size must be >= 1"),
            (self.training.lr > 0, "training.lr must be > 0"),
        ]
        for i, c in enumerate(self.clients):
            checks.append(
                (
                    c.offer_tokens >= 0
                    and c.offer_base >= 0
                    and (c.offer_tokens > 0) == (c.offer_base > 0),
                    f"clients[{i}]: offer_tokens and offer_base must both be positive or both 0",
                )
            )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    # -- derived on-chain values ----------------------------------------------------------
    def wei(self, amount: float) -> int:
        """A decimal config value as WAD fixed point (1.0 is 10**18), exact for decimal text:
        the payout cap and the griefing cap and ratio."""
        return to_units(amount, 18)

    def units(self, amount: float, decimals: int) -> int:
        """A base-token amount of the config in the token's smallest unit (``decimals`` comes
        from the chain: 18 for most tokens, 6 for USDC-like ones)."""
        return to_units(amount, decimals)

    @property
    def config_hash(self) -> bytes:
        """keccak of the config's canonical JSON: the task's on-chain config hash."""
        from fl_node.artifacts.codec import hash_json

        return bytes.fromhex(hash_json(self.to_dict())[2:])

    @property
    def mode_id(self) -> int:
        return MODES[self.federation.mode]

    def client(self, index: int) -> ClientConfig:
        if not 0 <= index < self.federation.max_clients:
            raise ConfigError(
                f"client index {index} is outside 0..{self.federation.max_clients - 1}"
            )
        return self.clients[index] if index < len(self.clients) else ClientConfig()

    # -- (de)serialization ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["clients"] = [dataclasses.asdict(c) for c in self.clients]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TaskConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: the top level must be a mapping")
        sections = {
            "data": DataConfig,
            "model": ModelConfig,
            "training": TrainingConfig,
            "federation": FederationConfig,
            "aggregation": AggregationConfig,
            "scoring": ScoringConfig,
        }
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in sections:
                kwargs[key] = _section(sections[key], value, f"{source}: {key}")
            elif key == "clients":
                if not isinstance(value, list):
                    raise ConfigError(f"{source}: clients must be a list of client settings")
                kwargs["clients"] = tuple(
                    _section(ClientConfig, item or {}, f"{source}: clients[{i}]")
                    for i, item in enumerate(value)
                )
            elif key in ("name", "seed", "store"):
                kwargs[key] = value
            else:
                raise ConfigError(f"{source}: unknown setting {key!r}")
        if "seed" in kwargs and not isinstance(kwargs["seed"], int):
            raise ConfigError(f"{source}: seed must be an integer")
        return cls(**kwargs).validate()

    @classmethod
    def load(cls, path: Path) -> TaskConfig:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    def replace(self, **changes: Any) -> TaskConfig:
        return dataclasses.replace(self, **changes).validate()


def to_units(amount: float | Decimal | str, decimals: int) -> int:
    """``amount`` whole tokens in the smallest unit of a token with ``decimals`` decimals, exact
    for decimal values (``to_units(1.5, 6) == 1_500_000``); fractions below one unit are dropped."""
    from decimal import Decimal

    return int(Decimal(str(amount)).scaleb(decimals))


def format_units(value: int, decimals: int) -> str:
    """A token amount in whole tokens, as short text (``format_units(1_500_000, 6) == "1.5"``)."""
    text = format(Decimal(value).scaleb(-decimals).normalize(), "f")
    return text


def _section(kind: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, raw in value.items():
        default = fields[name].default
        out[name] = _coerce(raw, default, f"{where}.{name}")
    return kind(**out)


def _coerce(raw: Any, default: Any, where: str) -> Any:
    """Type-check a value against its default's type (ints accepted where floats are)."""
    if default is None or default is dataclasses.MISSING or isinstance(default, dict):
        return raw
    if isinstance(default, bool):
        if not isinstance(raw, bool):
            raise ConfigError(f"{where} must be true or false")
        return raw
    if isinstance(default, int):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ConfigError(f"{where} must be an integer, got {raw!r}")
        return raw
    if isinstance(default, float):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ConfigError(f"{where} must be a number, got {raw!r}")
        return float(raw)
    if isinstance(default, str):
        if not isinstance(raw, str):
            raise ConfigError(f"{where} must be a string, got {raw!r}")
        return raw
    return raw
