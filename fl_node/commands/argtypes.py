"""Types of the command line's numeric arguments.

Each one turns an option's text into a checked value or raises ``argparse.ArgumentTypeError``
with one line, so argparse refuses ``nan``, ``inf``, ``-1``, ``1e77``, ``2**256`` or a thousand
digits as a usage error (exit code 2) before any command runs. The bounds are those of what the
value feeds: uint256 ids, uint64 durations, ports, token amounts that still fit in a uint256 once
scaled by the token's decimals (:func:`token_units`, at use, once the decimals are known).

This module imports nothing but the standard library: the parser is built on every start.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from fl_node.errors import ConfigError

UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1

#: The most whole tokens an amount may name: 10**40 (with up to 36 decimals it fits a uint256).
MAX_TOKENS = Decimal("1e40")
#: Decimals a dev base token may have: 10**40 tokens of 36 decimals still fit a uint256.
MAX_DECIMALS = 36
#: The longest wait any option takes: 10**9 seconds (about 31 years).
MAX_SECONDS = 1e9
#: Chain ids are at most 2**63 - 37 (EIP-2294), so the signature's v fits 64 bits.
MAX_CHAIN_ID = 2**63 - 37
#: More local dev accounts than this would keep Anvil busy deriving keys for minutes.
MAX_DEV_ACCOUNTS = 10_000

#: ERC-20 decimals are a uint8: no token has a unit below 10**-255.
_MAX_TOKEN_DECIMALS = 255

# Longer texts are never a usable number (a uint256 has 78 digits); they are refused before
# parsing, which also keeps Python's 4300-digit limit on int() out of the way.
_MAX_TEXT = 100
_DIGITS = re.compile(r"[+-]?[0-9][0-9_]*")


class _Error(argparse.ArgumentTypeError):
    pass


def _show(text: str) -> str:
    """The text as the message quotes it: shortened, so a huge value stays a one-line error."""
    text = text.strip()
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


def _whole(text: str, minimum: int, too_large: str) -> int:
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT and _DIGITS.fullmatch(stripped):
        if stripped.startswith("-"):
            raise _Error(f"{_show(text)} must be >= {minimum}")
        raise _Error(f"{_show(text)} is too large: {too_large}")
    try:
        return int(stripped)
    except ValueError:
        raise _Error(f"{_show(text)!r} is not an integer") from None


def integer(minimum: int, maximum: int, bound: str = "", note: str = "") -> Callable[[str], int]:
    """A type for whole numbers within ``[minimum, maximum]``: ``bound`` says the maximum in
    words (``"2**32 - 1 (uint32)"``), ``note`` why the minimum is what it is."""
    too_large = f"at most {bound or maximum}"
    too_small = f" ({note})" if note else ""

    def parse(text: str) -> int:
        value = _whole(text, minimum, too_large)
        if value < minimum:
            raise _Error(f"{value} must be >= {minimum}{too_small}")
        if value > maximum:
            raise _Error(f"{_show(text)} is too large: {too_large}")
        return value

    return parse


#: An on-chain task id: tasks are numbered from 1 (uint256).
task_id = integer(1, UINT256_MAX, "2**256 - 1 (uint256)", "task ids start at 1")
#: A round number of a task: rounds are numbered from 1 (uint256).
round_number = integer(1, UINT256_MAX, "2**256 - 1 (uint256)", "rounds start at 1")
#: A number of rounds (the config's ``rounds`` is a uint32).
positive_int = integer(1, UINT32_MAX, "2**32 - 1")
#: A count that may be zero (e.g. rounds of an optional part).
non_negative_int = integer(0, UINT32_MAX, "2**32 - 1")
#: A client's slot in a config's client list (below ``max_clients``, a uint32).
client_index = integer(0, UINT32_MAX - 1, "2**32 - 2")
#: A seed of the deterministic training and sampling (64 bits).
seed = integer(0, UINT64_MAX, "2**64 - 1")
#: A duration on-chain, in whole seconds (uint64, as the config's windows).
chain_seconds = integer(0, UINT64_MAX, "2**64 - 1 seconds (uint64)")
#: A positive duration on-chain, in whole seconds.
positive_chain_seconds = integer(1, UINT64_MAX, "2**64 - 1 seconds (uint64)")
#: Index N of Anvil's dev accounts (a non-hardened BIP-32 index).
dev_account = integer(0, 2**31 - 1, "2**31 - 1")
#: How many dev accounts a local chain funds.
dev_account_count = integer(1, MAX_DEV_ACCOUNTS)
#: A chain id.
chain_id = integer(1, MAX_CHAIN_ID, "2**63 - 37 (EIP-2294)")
#: Decimals of a token deployed here.
decimals = integer(0, MAX_DECIMALS)
#: A share in basis points, below 100 %.
basis_points = integer(0, 9_999, "9999 basis points")


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    value = _whole(text, 1, "a port is 1-65535")
    if not 1 <= value <= 65535:
        raise _Error(f"{value} is not a port (1-65535)")
    return value


def _real(text: str) -> float:
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT:
        raise _Error(f"{_show(text)} is too long to be a usable number")
    try:
        value = float(stripped)
    except ValueError:
        raise _Error(f"{_show(text)!r} is not a number") from None
    if not math.isfinite(value):
        raise _Error(f"{_show(text)} is not a finite number")
    return value


def _seconds(text: str, zero: bool) -> float:
    try:
        value = _real(text)
    except _Error:
        value = math.nan
    if not (value >= 0 if zero else value > 0):
        kind = "number of seconds >= 0" if zero else "positive number of seconds"
        raise _Error(f"{_show(text)} must be a {kind}")
    if value > MAX_SECONDS:
        raise _Error(f"{_show(text)} seconds is too long: at most 1e9 (about 31 years)")
    return value + 0.0  # -0.0 is 0


def seconds(text: str) -> float:
    """A positive, finite wait in seconds (fractions allowed), at most :data:`MAX_SECONDS`."""
    return _seconds(text, zero=False)


def non_negative_seconds(text: str) -> float:
    """As :func:`seconds`, where 0 is allowed (it means "none")."""
    return _seconds(text, zero=True)


def fraction(text: str) -> float:
    """A probability or share: a finite number within [0, 1]."""
    value = _real(text)
    if not 0 <= value <= 1:
        raise _Error(f"{_show(text)} must be within [0, 1]")
    return value


def _amount(text: str, positive: bool) -> Decimal:
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT:
        raise _Error(f"{_show(text)} is too long to be a token amount")
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise _Error(f"{_show(text)!r} is not a number") from None
    if not value.is_finite():
        raise _Error(f"{_show(text)} is not a finite number")
    if value < 0 or (positive and value == 0):
        raise _Error(f"{_show(text)} must be {'> 0' if positive else '>= 0'}")
    if value > MAX_TOKENS:
        raise _Error(f"{_show(text)} is more than any account can hold (at most 1e40 tokens)")
    if value and value.adjusted() < -_MAX_TOKEN_DECIMALS:
        raise _Error(f"{_show(text)} is below the smallest unit of any token")
    return value if value else Decimal(0)  # -0 is 0


def token_amount(text: str) -> Decimal:
    """An amount of whole tokens (decimal text, exact), >= 0 and at most :data:`MAX_TOKENS`;
    :func:`token_units` converts it once the token's decimals are known."""
    return _amount(text, positive=False)


def positive_amount(text: str) -> Decimal:
    """As :func:`token_amount`, and more than zero."""
    return _amount(text, positive=True)


def token_units(amount: Decimal, decimals: int, option: str) -> int:
    """``amount`` whole tokens in the smallest unit of a token with ``decimals`` decimals, exact
    (fractions below one unit are dropped); a :class:`ConfigError` naming ``option`` when a
    positive amount is below one unit or the result does not fit in a uint256."""
    numerator, denominator = amount.as_integer_ratio()
    units = numerator * 10**decimals // denominator
    if units > UINT256_MAX:
        raise ConfigError(
            f"{option} {amount} is too large for a token of {decimals} decimals (a uint256)"
        )
    if amount > 0 and units == 0:
        raise ConfigError(f"{option} {amount} is below the token's smallest unit")
    return units
