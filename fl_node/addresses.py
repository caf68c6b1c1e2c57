"""Addresses in EIP-55 checksum form, computed once each.

A checksum costs a keccak, and the same few dozen addresses (the task's clients, its aggregator,
the suite's contracts) come back in every read, receipt, log and store path of every round.
"""

from __future__ import annotations

from functools import lru_cache

from eth_utils import to_checksum_address


@lru_cache(maxsize=8192)
def checksummed(address: str | bytes) -> str:
    """``address`` (hex text or 20 bytes) in checksum form; ValueError when it is no address."""
    return str(to_checksum_address(address))
