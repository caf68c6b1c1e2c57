"""Brownie's transaction confirmation, made safe against Anvil's receipt lag.

Anvil can report a sender's nonce past a transaction a moment before it serves that
transaction's receipt (foundry-rs/foundry#10944). Brownie 1.22.2 reads the nonce first and the
receipt second while it waits for a confirmation, and takes "the nonce moved on, no receipt" as a
dropped transaction: the call then fails with ``Tx dropped without known replacement`` although
the transaction was mined. On a busy machine this hits a long test campaign now and then.

:func:`install` wraps Brownie's wait so that, on a development network, it first waits (bounded)
until the node serves the receipt; Brownie's own logic then finds it on its first look. On other
networks Brownie's behaviour is unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

#: Longest wait for a development node to serve a receipt before Brownie's own logic takes over.
RECEIPT_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.02
_MARK = "_fl_node_receipt_lag"


class _Eth(Protocol):
    def get_transaction_receipt(self, txid: Any) -> Any: ...


def wait_for_receipt(
    eth: _Eth,
    txid: str,
    timeout: float = RECEIPT_GRACE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Poll until ``eth`` serves the receipt of ``txid`` in a block; False after ``timeout``."""
    from web3.exceptions import TransactionNotFound

    deadline = clock() + timeout
    while True:
        try:
            receipt = eth.get_transaction_receipt(txid)
        except TransactionNotFound:
            receipt = None
        if receipt is not None and receipt["blockHash"] is not None:
            return True
        if clock() >= deadline:
            return False
        sleep(_POLL_SECONDS)


def install() -> bool:
    """Wrap Brownie's confirmation wait (once per process); False without Brownie."""
    try:
        from brownie._config import CONFIG
        from brownie.network import web3
        from brownie.network.transaction import TransactionReceipt
    except ImportError:
        return False
    original = TransactionReceipt._await_confirmation
    if getattr(original, _MARK, False):
        return True

    def _await_confirmation(self: Any, block_number: Any = None, required_confs: int = 1) -> None:
        if CONFIG.network_type == "development" and required_confs > 0:
            wait_for_receipt(web3.eth, self.txid)
        original(self, block_number, required_confs)

    setattr(_await_confirmation, _MARK, True)
    TransactionReceipt._await_confirmation = _await_confirmation  # type: ignore[method-assign]
    return True
