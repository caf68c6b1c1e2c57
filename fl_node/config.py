"""The task configuration: one YAML file that every participant of a task reads.

It fixes everything that must be identical on every machine for the run to be reproducible and
auditable: data and partition, model, local training, federation parameters (round timing, stakes,
rewards, payout clip, distribution mode), aggregation, contribution scoring, and, for simulations,
each client's quality profile. Its canonical hash is published on-chain with the task.

Every section is a frozen pydantic dataclass that forbids unknown settings, so a config is
validated completely when it is built (from YAML, from a dict, by ``replace`` or by
``dataclasses.replace``): types, ranges, every name (dataset, partition, model, strategy,
weighting, contribution method, utility, mode, behaviors), the parameters each strategy and each
contribution method accepts (checked by the same code that uses them), and the rules between
fields. Any problem is a :class:`~fl_node.errors.ConfigError` of one line naming the setting, e.g.
``config demo: aggregation.strategy 'medain' is not one of fedavg, krum, median, reputation,
trimmed_mean``: nothing is funded or staked with a config that would fail later.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import yaml
from pydantic import (
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from fl_node.errors import ConfigError

WAD = 10**18
MODES = {"direct": 0, "buyback": 1, "dividend": 2}
UTILITIES = ("neg_loss", "accuracy")

#: What the Federation contract's TaskParams hold: windows are uint64, counts uint32.
UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1

_MODEL = ConfigDict(extra="forbid", allow_inf_nan=False)
_FIELD = "fl_node_config_field"  # a problem with one setting: "<path> <message>"
_RULE = "fl_node_config_rule"  # a rule between settings: "<path>: <message>"

_T = TypeVar("_T")


# -- errors ------------------------------------------------------------------------------------
def _field_error(message: str) -> NoReturn:
    raise PydanticCustomError(_FIELD, "{message}", {"message": message})


def _rule_error(message: str, field: str | None = None) -> NoReturn:
    raise PydanticCustomError(_RULE, "{message}", {"message": message, "field": field})


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " key"
        else:
            out += f".{part}" if out else str(part)
    return out


def _known_settings(parent: tuple[int | str, ...]) -> list[str]:
    names = [p for p in parent if isinstance(p, str)]
    kind = _SECTIONS.get(names[-1]) if names else TaskConfig
    return [f.name for f in dataclasses.fields(kind)] if kind is not None else []


def _describe_one(error: Any, prefix: tuple[int | str, ...]) -> str:
    loc = prefix + tuple(error["loc"])
    path = _path(loc)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == _FIELD:
        return f"{path} {ctx['message']}" if path else ctx["message"]
    if kind == _RULE:
        where = _path(loc + ((ctx["field"],) if ctx.get("field") else ()))
        return f"{where}: {ctx['message']}" if where else ctx["message"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        parent, key = loc[:-1], str(loc[-1])
        known = _known_settings(parent)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
        where = _path(parent)
        return f"{where + ': ' if where else ''}unknown setting {key!r} ({hint})"
    if kind in ("dataclass_type", "dataclass_exact_type", "dict_type", "model_type"):
        return f"{path or 'the top level'} must be a mapping, got {value!r}"
    if kind in ("tuple_type", "list_type"):
        return f"{path} must be a list, got {value!r}"
    if kind == "string_type":
        return f"{path} must be a string, got {value!r}"
    if kind == "bool_type":
        return f"{path} must be true or false, got {value!r}"
    return f"{path}: {error['msg']}" if path else error["msg"]


def _describe(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> str:
    """One line: the first problem (pydantic reports them in field order) and how many more."""
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc)
    first = _describe_one(errors[0], prefix)
    more = len(errors) - 1
    return f"{first} (and {more} more problem{'s' if more > 1 else ''})" if more else first


def _config_errors(where: str | None = None) -> Callable[[type[_T]], type[_T]]:
    """Make a section's constructor (and so ``dataclasses.replace``) raise ConfigError.

    ``where`` is the section's place in a task config (``"federation"``), named in messages
    about a section built on its own; ``None`` for the task config itself.
    """

    def wrap(cls: type[_T]) -> type[_T]:
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except ValidationError as exc:
                if where is None:
                    raise ConfigError(f"config: {_describe(exc)}") from None
                raise ConfigError(_describe(exc, (where,))) from None

        cls.__init__ = __init__  # type: ignore[method-assign]
        return cls

    return wrap


# -- field types -------------------------------------------------------------------------------
def _integer(minimum: int, maximum: int | None = None, max_text: str = "") -> Any:
    """An integer (not a bool) within [minimum, maximum]."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            _field_error(f"must be an integer >= {minimum}, got {value!r}")
        number = int(value)
        if number < minimum:
            _field_error(f"must be an integer >= {minimum}, got {value!r}")
        if maximum is not None and number > maximum:
            _field_error(f"must be at most {max_text or maximum}, got {value!r}")
        return number

    return BeforeValidator(check)


def _number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """A finite real number (not a bool; ints become floats, as YAML's ``100`` is ``100.0``)."""
    if low is not None and high is not None:
        bounds = f"within {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        bounds = f"a finite number {'>' if low_open else '>='} {low}"
    else:
        bounds = "a finite number"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            _field_error(f"must be {bounds}, got {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            number = math.inf
        ok = (
            math.isfinite(number)
            and (low is None or (number > low if low_open else number >= low))
            and (high is None or (number < high if high_open else number <= high))
        )
        if not ok:
            _field_error(f"must be {bounds}, got {value!r}")
        return number

    return BeforeValidator(check)


def _text(*, non_empty: bool = False) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (non_empty and not value):
            _field_error(f"must be a{' non-empty' if non_empty else ''} string, got {value!r}")
        return value

    return BeforeValidator(check)


def parse_flag(value: object) -> bool | None:
    """A setting given as text (or a bool): ``true``/``false``, ``1``/``0``, ``yes``/``no``, in
    any case; None when it is none of these."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    return None


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        _field_error(f"must be true or false, got {value!r}")
    return value


def _choice(options: Callable[[], Iterable[str]]) -> Any:
    """One of the names ``options()`` gives: the registry of the module that implements them
    (imported when a config is checked, so importing this module stays light)."""

    def check(value: Any) -> str:
        names = list(options())
        if not isinstance(value, str) or value not in names:
            _field_error(f"{value!r} is not one of {', '.join(names)}")
        return value

    return BeforeValidator(check)


def _datasets() -> Iterable[str]:
    from fl_node.training.data import LOADERS

    return LOADERS


def _schemes() -> Iterable[str]:
    from fl_node.training.partition import SCHEMES

    return SCHEMES


def _archs() -> Iterable[str]:
    from fl_node.training.models import ARCHS

    return ARCHS


def _strategies() -> Iterable[str]:
    from fl_node.aggregation import STRATEGIES

    return STRATEGIES


def _weightings() -> Iterable[str]:
    from fl_node.aggregation import WEIGHTINGS

    return WEIGHTINGS


def _methods() -> Iterable[str]:
    from fl_node.contribution import METHODS

    return METHODS


def _behaviors() -> Iterable[str]:
    from fl_node.training.quality import BEHAVIORS

    return BEHAVIORS


_Count = Annotated[int, _integer(1)]
_Seconds = Annotated[int, _integer(1, UINT64_MAX, "2**64 - 1 (uint64)")]
_Positive = Annotated[float, _number(0, low_open=True)]
_NonNegative = Annotated[float, _number(0)]
_Fraction = Annotated[float, _number(0, 1)]
_Text = Annotated[str, _text()]
_Flag = Annotated[bool, BeforeValidator(_flag)]
_Params = dict[str, Any]


def _check_params(
    name: str, func: Callable[..., Any], call: Callable[[], object], params: _Params
) -> None:
    """Run ``call`` (``func`` with ``params`` as keywords) for the implementation's own checks
    of the parameters of ``name``. One named like an argument of ``func`` itself is refused
    first (it would not reach ``name``)."""
    own = {
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    clash = sorted(own & set(params))
    if clash:
        _rule_error(f"{', '.join(map(repr, clash))} is not a parameter of {name!r}", "params")
    try:
        call()
    except ConfigError as exc:
        _rule_error(str(exc), "params")


# -- sections ----------------------------------------------------------------------------------
@_config_errors("data")
@dataclass(frozen=True, config=_MODEL)
class DataConfig:
    dataset: Annotated[str, _choice(_datasets)] = "digits"
    partition: Annotated[str, _choice(_schemes)] = "iid"  # iid | dirichlet | quantity
    alpha: _Positive = 0.5  # Dirichlet concentration
    min_samples: Annotated[int, _integer(0)] = 10


@_config_errors("model")
@dataclass(frozen=True, config=_MODEL)
class ModelConfig:
    arch: Annotated[str, _choice(_archs)] = "mlp"  # mlp | cnn | logreg
    hidden: _Count = 128


@_config_errors("training")
@dataclass(frozen=True, config=_MODEL)
class TrainingConfig:
    """Plain SGD settings of a local round: the task's ``training`` section, and what
    :func:`fl_node.training.local.train_local` takes."""

    epochs: _Count = 2
    batch_size: _Count = 32
    lr: _Positive = 0.1
    momentum: Annotated[float, _number(0, 1, high_open=True)] = 0.9
    weight_decay: _NonNegative = 0.0


@_config_errors("federation")
@dataclass(frozen=True, config=_MODEL)
class FederationConfig:
    rounds: Annotated[int, _integer(1, UINT32_MAX, "2**32 - 1 (uint32)")] = 10
    max_clients: Annotated[int, _integer(1, UINT32_MAX, "2**32 - 1 (uint32)")] = 8
    # participants needed before round 1 opens; 0: all max_clients
    min_clients: Annotated[int, _integer(0, UINT32_MAX, "2**32 - 1 (uint32)")] = 0
    commit_window: _Seconds = 120  # commits close early once every participant committed
    reveal_window: _Seconds = 30  # seconds for reveals after commits close
    # seconds during which a posted round can be challenged; 0: none, the post is final at once
    challenge_window: Annotated[int, _integer(0, UINT64_MAX, "2**64 - 1 (uint64)")] = 2
    post_timeout: _Seconds = 600  # seconds after the reveal window before anyone may abort
    arbiter_timeout: _Seconds = 3_600  # seconds the arbiter has to decide a challenge
    claim_window: _Seconds = 7 * 86_400  # seconds after a round ends to settle and claim it
    stake: _Positive = 100.0  # base tokens per round
    stake_min: _Positive = 10.0
    join_bond: _NonNegative = 10.0  # base tokens locked while a client holds a seat in the task
    aggregator_bond: _NonNegative = 500.0  # the aggregator's bond (slashed if a post is voided)
    challenge_bond: _NonNegative = 100.0  # a challenger's bond (lost if the post is kept)
    reward_per_round: _NonNegative = 1_000.0
    budget: _NonNegative = 12_000.0  # escrowed by the sponsor: rewards plus positive stake payouts
    # payout_factor = min(1, threshold / total at risk)
    payout_threshold: _Positive = 1_000.0
    payout_cap: _Fraction = 0.05  # clip of the per-round payout, as a fraction of the stake
    # reward distribution: direct | buyback | dividend
    mode: Annotated[str, _choice(lambda: MODES)] = "direct"
    allowlist: _Flag = False  # only clients the sponsor allows may join
    grief_cap: _Fraction = 0.0  # fraction of a round stake the sponsor may burn (0: none)
    grief_ratio: _NonNegative = 0.0  # what the sponsor pays per token it burns (0: free punishment)

    @property
    def start_clients(self) -> int:
        """Participants needed before the first round opens."""
        return self.min_clients or self.max_clients

    @model_validator(mode="after")
    def _rules(self) -> FederationConfig:
        if self.min_clients > self.max_clients:
            _rule_error(
                f"min_clients ({self.min_clients}) must be between 0 (all) and max_clients "
                f"({self.max_clients})"
            )
        if self.stake < self.stake_min:
            _rule_error(f"stake ({self.stake:g}) must be >= stake_min ({self.stake_min:g})")
        return self


@_config_errors("aggregation")
@dataclass(frozen=True, config=_MODEL)
class AggregationConfig:
    # fedavg | median | trimmed_mean | krum | reputation
    strategy: Annotated[str, _choice(_strategies)] = "fedavg"
    # samples | stake | stake_reputation | uniform (fedavg only)
    weighting: Annotated[str, _choice(_weightings)] = "samples"
    params: _Params = dataclasses.field(default_factory=dict)

    @model_validator(mode="after")
    def _strategy_accepts_them(self) -> AggregationConfig:
        """The strategy is built once, as the aggregator will: its own checks of the weighting
        and of every parameter (trimmed_mean's trim in [0, 0.5), krum's f >= 0 and m >= 1,
        reputation's decay in (0, 1], tolerance >= 0, source, fallback and its trim)."""
        from fl_node.aggregation import make_strategy

        try:
            make_strategy(self.strategy, weighting=self.weighting)
        except ConfigError as exc:
            _rule_error(str(exc), "weighting")
        _check_params(
            self.strategy,
            make_strategy,
            lambda: make_strategy(self.strategy, weighting=self.weighting, **self.params),
            self.params,
        )
        return self


def _dry_run_scoring(method: str, params: _Params) -> None:
    """The contribution method on a round with no updates: it checks its parameters exactly as
    the aggregator's call will, and costs one evaluation of a constant."""
    import numpy as np

    from fl_node.contribution import build_game, compute_contributions

    g = np.zeros(1, dtype=np.float32)
    game = build_game(g, [], lambda idx: g, lambda vec: 0.0, samples=[])
    compute_contributions(method, game, seed=0, **params)


@_config_errors("scoring")
@dataclass(frozen=True, config=_MODEL)
class ScoringConfig:
    # loo | mc_shapley | gtg_shapley | exact_shapley | cosine | data_size
    method: Annotated[str, _choice(_methods)] = "loo"
    # neg_loss | accuracy, measured on the validation set
    utility: Annotated[str, _choice(lambda: UTILITIES)] = "neg_loss"
    # Numerai: payout = clip(f * (0.5 CORR + 2 MMC))
    corr_multiplier: Annotated[float, _number()] = 0.5
    mmc_multiplier: Annotated[float, _number()] = 2.0
    params: _Params = dataclasses.field(default_factory=dict)

    @model_validator(mode="after")
    def _method_accepts_them(self) -> ScoringConfig:
        from fl_node.contribution import compute_contributions

        _check_params(
            self.method,
            compute_contributions,
            lambda: _dry_run_scoring(self.method, self.params),
            self.params,
        )
        return self


@_config_errors("client")
@dataclass(frozen=True, config=_MODEL)
class ClientConfig:
    """A simulated client's quality knobs (see fl_node.training.quality.ClientProfile)."""

    name: _Text = ""
    label_noise: _Fraction = 0.0
    max_samples: int | None = None  # at most this many training samples (None: all)
    # honest | free_rider | copycat | poison_random | poison_signflip
    behavior: Annotated[str, _choice(_behaviors)] = "honest"
    poison_scale: _NonNegative = 5.0
    # client tokens put on its market at registration (0: no market)
    offer_tokens: _NonNegative = 0.0
    offer_base: _NonNegative = 0.0  # base tokens paired with them (sets the opening price)

    @field_validator("max_samples", mode="before")
    @classmethod
    def _max_samples(cls, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            _field_error(f"must be empty (all) or an integer >= 1, got {value!r}")
        return int(value)

    @model_validator(mode="after")
    def _offers(self) -> ClientConfig:
        if (self.offer_tokens > 0) != (self.offer_base > 0):
            _rule_error(
                f"offer_tokens ({self.offer_tokens:g}) and offer_base ({self.offer_base:g}) must "
                "both be positive (a market) or both 0 (none)"
            )
        return self


def _client_list(value: Any) -> Any:
    """``clients:`` is a YAML list; an empty item (``- ``) is a default client."""
    if isinstance(value, list | tuple):
        return tuple({} if item is None else item for item in value)
    _field_error(f"must be a list of client settings, got {value!r}")


@_config_errors()
@dataclass(frozen=True, config=_MODEL)
class TaskConfig:
    name: _Text = "digits"
    seed: Annotated[int, _integer(0)] = 7
    store: Annotated[str, _text(non_empty=True)] = "file://./store"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    federation: FederationConfig = dataclasses.field(default_factory=FederationConfig)
    aggregation: AggregationConfig = dataclasses.field(default_factory=AggregationConfig)
    scoring: ScoringConfig = dataclasses.field(default_factory=ScoringConfig)
    clients: Annotated[tuple[ClientConfig, ...], BeforeValidator(_client_list)] = ()

    # -- validation ------------------------------------------------------------------------
    @model_validator(mode="after")
    def _rules(self) -> TaskConfig:
        fed = self.federation
        if len(self.clients) > fed.max_clients:
            _rule_error(
                f"{len(self.clients)} clients listed, more than federation.max_clients "
                f"({fed.max_clients})",
                "clients",
            )
        if self.scoring.method == "exact_shapley":
            from fl_node.contribution import EXACT_MAX_PLAYERS

            if fed.max_clients > EXACT_MAX_PLAYERS:
                _rule_error(
                    f"exact_shapley values all 2^n coalitions of up to federation.max_clients "
                    f"({fed.max_clients}) updates: at most {EXACT_MAX_PLAYERS}; use mc_shapley "
                    "or gtg_shapley",
                    "scoring.method",
                )
        return self

    def validate(self) -> TaskConfig:
        """The config itself: it was validated completely when it was built."""
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
        """Plain data (the canonical JSON of it is hashed on-chain: keep it stable)."""
        data = dataclasses.asdict(self)
        data["clients"] = [dataclasses.asdict(c) for c in self.clients]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TaskConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: the top level must be a mapping")
        try:
            return _adapter().validate_python(data)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {_describe(exc)}") from None

    @classmethod
    def load(cls, path: Path, source: str | None = None) -> TaskConfig:
        """The config in YAML file ``path``; errors start with ``source`` (default: the path)."""
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=source or f"config {path}")

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    def replace(self, **changes: Any) -> TaskConfig:
        """A copy with ``changes`` (whole sections or top-level settings), validated."""
        return dataclasses.replace(self, **changes)


@functools.cache
def _adapter() -> TypeAdapter[TaskConfig]:
    return TypeAdapter(TaskConfig)


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "federation": FederationConfig,
    "aggregation": AggregationConfig,
    "scoring": ScoringConfig,
    "clients": ClientConfig,
    "client": ClientConfig,
}


def to_units(amount: float | Decimal | str, decimals: int) -> int:
    """``amount`` whole tokens in the smallest unit of a token with ``decimals`` decimals, exact
    for decimal values (``to_units(1.5, 6) == 1_500_000``); fractions below one unit are dropped."""
    return int(Decimal(str(amount)).scaleb(decimals))


def format_units(value: int, decimals: int) -> str:
    """A token amount in whole tokens, as short text (``format_units(1_500_000, 6) == "1.5"``)."""
    text = format(Decimal(value).scaleb(-decimals).normalize(), "f")
    return text
