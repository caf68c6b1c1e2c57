"""Transaction fees and confirmation depth: the pure rules that
:class:`~fl_node.chain.client.ChainClient` applies.

EIP-1559 chains: the priority fee (tip) is the node's suggestion (``eth_maxPriorityFeePerGas``);
the max fee is ``2 * base fee + tip``, which keeps a transaction includable through five full
blocks in a row (each raises the base fee by at most 12.5 %, and 1.125**5 < 2). A policy caps
either or both.
Chains without a base fee get a legacy gas price, capped the same way. A transaction that is not
mined in time is sent again with the same nonce and fees raised by 12.5 % (nodes replace a pending
transaction only for at least 10 % more), never above the caps.
"""

from __future__ import annotations

from dataclasses import dataclass

from fl_node.errors import ConfigError

GWEI = 10**9
#: Chain ids of local development chains (Anvil, Hardhat, Ganache): nothing to wait for there.
DEV_CHAIN_IDS = (31337, 1337)
#: Blocks to wait after a receipt on other chains before its state counts as final.
PUBLIC_CONFIRMATIONS = 2
#: Tip on a chain whose base fee is zero (a local chain): enough for any local node.
LOCAL_TIP_CAP = 2 * GWEI


@dataclass(frozen=True)
class FeePolicy:
    """What a sender is willing to pay per gas, in wei; None means "what the chain asks"."""

    max_fee: int | None = None  # cap on maxFeePerGas (or on the legacy gas price)
    priority_fee: int | None = None  # cap on maxPriorityFeePerGas (the tip)

    @classmethod
    def from_gwei(
        cls, max_fee_gwei: float | None = None, priority_fee_gwei: float | None = None
    ) -> FeePolicy:
        """A policy from gwei amounts (command-line values), checked."""
        for name, value in (("max fee", max_fee_gwei), ("priority fee", priority_fee_gwei)):
            if value is not None and not value >= 0:
                raise ConfigError(f"the {name} must be >= 0 gwei, got {value}")
        if max_fee_gwei is not None and max_fee_gwei <= 0:
            raise ConfigError(f"the max fee must be > 0 gwei, got {max_fee_gwei}")
        if (
            max_fee_gwei is not None
            and priority_fee_gwei is not None
            and priority_fee_gwei > max_fee_gwei
        ):
            raise ConfigError(
                f"the priority fee ({priority_fee_gwei:g} gwei) cannot exceed the max fee "
                f"({max_fee_gwei:g} gwei)"
            )
        return cls(
            max_fee=None if max_fee_gwei is None else round(max_fee_gwei * GWEI),
            priority_fee=None if priority_fee_gwei is None else round(priority_fee_gwei * GWEI),
        )


NO_CAPS = FeePolicy()


@dataclass(frozen=True)
class Fees:
    """The fee fields of one transaction: EIP-1559 (``max_fee``, ``tip``) or legacy
    (``gas_price``)."""

    max_fee: int = 0
    tip: int = 0
    gas_price: int | None = None

    @property
    def per_gas(self) -> int:
        """The most this transaction can pay per gas."""
        return self.gas_price if self.gas_price is not None else self.max_fee

    def as_params(self) -> dict[str, int]:
        if self.gas_price is not None:
            return {"gasPrice": self.gas_price}
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}


def eip1559_fees(base_fee: int, suggested_tip: int, policy: FeePolicy = NO_CAPS) -> Fees:
    """``max_fee = 2 * base_fee + tip``, within the policy's caps."""
    tip = suggested_tip
    if base_fee == 0:
        tip = min(tip, LOCAL_TIP_CAP)
    if policy.priority_fee is not None:
        tip = min(tip, policy.priority_fee)
    max_fee = 2 * base_fee + tip
    if policy.max_fee is not None:
        max_fee = min(max_fee, policy.max_fee)
        tip = min(tip, max_fee)
    return Fees(max_fee=max_fee, tip=tip)


def legacy_fees(gas_price: int, policy: FeePolicy = NO_CAPS) -> Fees:
    """The node's gas price, within the policy's cap."""
    if policy.max_fee is not None:
        gas_price = min(gas_price, policy.max_fee)
    return Fees(gas_price=gas_price)


def _raised(value: int) -> int:
    return value + value // 8 + 1  # +12.5 %, at least one wei


def bumped(old: Fees, fresh: Fees, policy: FeePolicy = NO_CAPS) -> Fees | None:
    """Fees for a replacement of a transaction sent with ``old``: at least 12.5 % more on every
    field (and no less than ``fresh``, what the chain asks now), within the policy's caps; None
    when the caps leave no room for a valid replacement."""
    if old.gas_price is not None:
        price = max(_raised(old.gas_price), fresh.per_gas)
        if policy.max_fee is not None and price > policy.max_fee:
            return None
        return Fees(gas_price=price)
    tip = max(_raised(old.tip), fresh.tip)
    max_fee = max(_raised(old.max_fee), fresh.max_fee, tip)
    if policy.max_fee is not None and max_fee > policy.max_fee:
        return None
    if policy.priority_fee is not None and tip > policy.priority_fee:
        return None
    return Fees(max_fee=max_fee, tip=tip)


#: What local development nodes answer to ``web3_clientVersion`` (they may run under any chain
#: id, e.g. to rehearse a public network, and mine only on demand).
DEV_NODES = ("anvil", "ganache", "hardhat")


def default_confirmations(chain_id: int, client_version: str = "") -> int:
    """Blocks to wait after a receipt: none on a local development chain (by its chain id or
    its node's name), a few elsewhere."""
    if chain_id in DEV_CHAIN_IDS or client_version.lower().startswith(DEV_NODES):
        return 0
    return PUBLIC_CONFIRMATIONS
