"""The report reads the gas of every block's transactions in JSON-RPC batches, and block by block
on a node without ``eth_getBlockReceipts``: the same figures either way."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from web3.exceptions import MethodUnavailable

from fl_node.report.collect import block_receipts, gas_by_round

#: block -> [(sender, gas)]
BLOCKS = {0: [], 1: [("0xA", 100)], 2: [("0xB", 5), ("0xa", 7)], 3: [], 4: [("0xC", 9)]}


class FakeEth:
    def __init__(self, batched: bool) -> None:
        self.batched = batched
        self.calls: list[str] = []

    def get_block_receipts(self, number: int) -> list[dict[str, Any]]:
        self.calls.append("get_block_receipts")
        return [{"from": s, "gasUsed": g} for s, g in BLOCKS[number]]

    def get_block(self, number: int, full_transactions: bool) -> dict[str, Any]:
        self.calls.append("get_block")
        return {"transactions": [{"hash": (number, i)} for i in range(len(BLOCKS[number]))]}

    def get_transaction_receipt(self, tx_hash: tuple[int, int]) -> dict[str, Any]:
        self.calls.append("get_transaction_receipt")
        sender, gas = BLOCKS[tx_hash[0]][tx_hash[1]]
        return {"from": sender, "gasUsed": gas}


class FakeBatch:
    def __init__(self, eth: FakeEth) -> None:
        self.eth, self.pending = eth, []

    def add(self, answer: Any) -> None:
        self.pending.append(answer)

    def execute(self) -> list[Any]:
        if not self.eth.batched:
            raise MethodUnavailable("the method eth_getBlockReceipts does not exist")
        return self.pending


def fake_client(batched: bool) -> Any:
    eth = FakeEth(batched)

    @contextmanager
    def batch_requests() -> Any:
        yield FakeBatch(eth)

    w3 = SimpleNamespace(eth=eth, batch_requests=batch_requests)
    retry = SimpleNamespace(run=lambda _what, fn: fn())
    return SimpleNamespace(w3=w3, retry=retry, block_number=lambda: max(BLOCKS))


def test_batched_and_one_by_one_give_the_same_receipts() -> None:
    batched, plain = fake_client(True), fake_client(False)
    assert list(block_receipts(batched, 0, 4, batch=2)) == list(block_receipts(plain, 0, 4))
    assert list(block_receipts(batched, 1, 2)) == [(1, [("0xA", 100)]), (2, BLOCKS[2])]
    assert set(batched.w3.eth.calls) == {"get_block_receipts"}
    assert "get_transaction_receipt" in plain.w3.eth.calls  # the fallback was taken


def test_gas_is_attributed_to_rounds_and_roles() -> None:
    roles = {"0xa": "aggregator", "0xb": "client"}
    per_round, setup = gas_by_round(fake_client(True), 0, [2, 4], roles)
    assert setup == {"aggregator": 100}  # block 1, before round 1 opened in block 2
    assert per_round == [{"client": 5, "aggregator": 7}, {"other": 9}]
