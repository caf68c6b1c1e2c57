"""Assertions for contract tests: reverts are checked by custom error name (and arguments)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from brownie.exceptions import VirtualMachineError


def _fmt(value: Any) -> str:
    if hasattr(value, "address"):
        value = value.address
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return str(value)


@contextmanager
def reverts(error: str, *args: Any) -> Iterator[None]:
    """Expect the block to revert with custom error ``error`` (its name, as Brownie decodes it).

    Each of ``args`` (addresses, accounts, ints) must appear in the decoded arguments, in order.
    """
    with pytest.raises(VirtualMachineError) as excinfo:
        yield
    message = excinfo.value.revert_msg or ""
    name, _, rest = message.partition(":")
    assert name.strip() == error, f"expected revert {error}, got {message!r}"
    decoded = [part.strip().lower() for part in rest.split(",")] if rest else []
    for index, arg in enumerate(args):
        assert index < len(decoded) and decoded[index] == _fmt(arg).lower(), (
            f"argument {index} of {error}: expected {_fmt(arg)}, got {rest!r}"
        )
