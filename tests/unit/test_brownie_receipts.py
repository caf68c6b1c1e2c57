"""The wait for Anvil's receipt that keeps Brownie from calling a mined transaction dropped."""

from __future__ import annotations

from typing import Any

import pytest
from web3.exceptions import TransactionNotFound

from fl_node.toolchain import brownie_receipts
from fl_node.toolchain.brownie_receipts import wait_for_receipt


class LaggingEth:
    """A node that serves a receipt only from its ``lag``-th request on (None, then pending)."""

    def __init__(self, lag: int, pending_first: bool = False) -> None:
        self.lag, self.pending_first, self.calls = lag, pending_first, 0

    def get_transaction_receipt(self, txid: Any) -> Any:
        self.calls += 1
        if self.calls > self.lag:
            return {"blockHash": b"\x01" * 32, "transactionHash": txid}
        if self.pending_first and self.calls == 1:
            return {"blockHash": None}
        raise TransactionNotFound(txid)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("lag", [0, 1, 5])
def test_waits_until_the_receipt_is_served(lag: int) -> None:
    eth, clock = LaggingEth(lag, pending_first=lag > 0), FakeClock()
    assert wait_for_receipt(eth, "0xab", timeout=1.0, sleep=clock.sleep, clock=clock)
    assert eth.calls == lag + 1  # asked until it came, not once more


def test_gives_up_after_the_timeout() -> None:
    eth, clock = LaggingEth(10**9), FakeClock()
    assert not wait_for_receipt(eth, "0xab", timeout=0.5, sleep=clock.sleep, clock=clock)
    assert clock.now >= 0.5
    assert eth.calls < 100  # polls, not a busy loop


def test_install_wraps_brownie_once() -> None:
    pytest.importorskip("brownie")
    from brownie.network.transaction import TransactionReceipt

    assert brownie_receipts.install()
    wrapped = TransactionReceipt._await_confirmation
    assert getattr(wrapped, "_fl_node_receipt_lag", False)
    assert brownie_receipts.install()
    assert TransactionReceipt._await_confirmation is wrapped  # not wrapped twice
