"""Collect a finished (or running) task's report from the chain and the artifact store alone.

Everything in the report is public: round states and hashes from the Federation contract, results
tables from the store (checked against their on-chain Merkle roots), and the gas of every
transaction from the chain's receipts, attributed to the round it happened in and to the role of
its sender.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from web3.exceptions import MethodUnavailable, Web3RPCError
from web3.types import TxData

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import ClientPool, ClientToken
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus, hex32
from fl_node.federation.storage import fetch_results

#: Scores in results tables are fixed point with 18 decimals (1.0 is 10**18).
SCORE_SCALE = 10**18
#: Blocks whose receipts one JSON-RPC batch asks for.
BATCH = 100


@dataclass(frozen=True)
class Participant:
    index: int
    name: str
    address: str


def gas_by_round(
    client: ChainClient, from_block: int, round_blocks: list[int], roles: dict[str, str]
) -> tuple[list[dict[str, int]], dict[str, int]]:
    """Gas of every transaction since ``from_block``, per round (by the block each round opened
    in; round i covers [open_i, open_{i+1})) and per sender role; and the set-up gas before."""
    per_round: list[defaultdict[str, int]] = [defaultdict(int) for _ in round_blocks]
    setup: dict[str, int] = defaultdict(int)
    for number, receipts in block_receipts(client, from_block, client.block_number()):
        slot = bisect_right(round_blocks, number) - 1
        target = setup if slot < 0 else per_round[slot]
        for sender, gas in receipts:
            target[roles.get(sender.lower(), "other")] += gas
    return [dict(r) for r in per_round], dict(setup)


def block_receipts(
    client: ChainClient, first: int, last: int, batch: int = BATCH
) -> Iterator[tuple[int, list[tuple[str, int]]]]:
    """(block, [(sender, gas used)]) for every block from ``first`` to ``last``: the blocks'
    receipts in JSON-RPC batches of ``batch`` blocks (``eth_getBlockReceipts``), or block by block
    and transaction by transaction on a node without that method."""
    w3 = client.w3
    for low in range(first, last + 1, batch):
        numbers = range(low, min(last, low + batch - 1) + 1)
        try:

            def fetch(numbers: range = numbers) -> list[Any]:
                with w3.batch_requests() as requests:
                    for n in numbers:
                        requests.add(w3.eth.get_block_receipts(n))
                    return list(requests.execute())

            answers = client.retry.run("read block receipts", fetch)
        except (Web3RPCError, ValueError, MethodUnavailable):
            answers = [_receipts_one_by_one(client, n) for n in numbers]
        for n, receipts in zip(numbers, answers, strict=True):
            yield n, [(str(r["from"]), int(r["gasUsed"])) for r in receipts]


def _receipts_one_by_one(client: ChainClient, number: int) -> list[Any]:
    block = client.w3.eth.get_block(number, full_transactions=True)
    # full_transactions=True: the block holds whole transactions, not their hashes.
    return [
        client.w3.eth.get_transaction_receipt(tx["hash"])
        for tx in cast(Sequence[TxData], block["transactions"])
    ]


def collect_report(
    client: ChainClient,
    task_id: int,
    store: ArtifactStore,
    participants: list[Participant],
    roles: dict[str, str],
    from_block: int = 0,
) -> dict[str, Any]:
    api = FederationApi(client, task_id)
    params, state = api.params(), api.state()
    unit = 10**api.decimals

    def _base(amount: int) -> float:
        """Base-token amounts in whole tokens."""
        return amount / unit

    names = {p.address.lower(): p.name for p in participants}
    rounds: list[dict[str, Any]] = []
    opened_blocks: list[int] = []
    for number in range(1, state.current_round + 1):
        info = api.round(number)
        opened = api.round_opened_block(number, from_block)
        opened_blocks.append(opened if opened is not None else from_block)
        entry: dict[str, Any] = {
            "round": number,
            "phase": Phase(info.phase).name.lower(),
            "parent_model_hash": hex32(info.parent_model_hash),
            "model_hash": hex32(info.model_hash),
            "results_root": hex32(info.results_root),
            "commits": info.commits,
            "reveals": info.reveals,
            "total_at_risk": _base(info.total_at_risk),
            "metrics": {},
            "clients": [],
        }
        if info.phase in (Phase.POSTED, Phase.CHALLENGED, Phase.FINALIZED):
            table = fetch_results(store, info.results_root, owner=params.aggregator)
            entry["metrics"] = dict(table.metrics)
            for row in table.rows:
                entry["clients"].append(
                    {
                        "name": names.get(row.client.lower(), row.client),
                        "address": row.client,
                        "update_hash": row.update_hash,
                        "included": row.included,
                        "reason": row.reason,
                        "num_samples": row.num_samples,
                        "own": row.own,
                        "marginal": row.marginal,
                        "score": row.score / SCORE_SCALE,
                        "stake": _base(row.stake),
                        "payout": _base(row.payout),
                        "reward": _base(row.reward),
                    }
                )
        rounds.append(entry)
    per_round_gas, setup_gas = gas_by_round(client, from_block, opened_blocks, roles)
    for entry, gas in zip(rounds, per_round_gas, strict=True):
        entry["gas"] = gas
    totals: dict[str, dict[str, float]] = {
        p.name: {"reward": 0.0, "payout": 0.0, "burned": 0.0, "rounds_used": 0}
        for p in participants
    }
    for entry in rounds:
        for row in entry["clients"]:
            t = totals.setdefault(
                row["name"], {"reward": 0.0, "payout": 0.0, "burned": 0.0, "rounds_used": 0}
            )
            t["reward"] += row["reward"]
            t["payout"] += max(row["payout"], 0.0)
            t["burned"] += max(-row["payout"], 0.0)
            t["rounds_used"] += int(row["included"])
    prices = {}
    markets = {}
    fee_bps = api.registry.fee_bps() if participants else 0
    for p in participants:
        pool_address = api.registry.pool_of(p.address)
        token_address = api.registry.token_of(p.address)
        if pool_address is not None and token_address is not None:
            # Base per PRICE_SCALE token units, as whole base tokens per whole client token.
            pool = ClientPool(client, pool_address)
            token_unit = ClientToken(client, token_address).unit
            prices[p.name] = _base(pool.price() * token_unit // ClientPool.PRICE_SCALE)
            reserves = pool.reserves()
            markets[p.name] = {
                "reserve_token": reserves.token / token_unit,
                "reserve_base": _base(reserves.base),
                "fee_bps": fee_bps,
            }
    final = next((r for r in reversed(rounds) if r["metrics"]), None)
    return {
        "task_id": task_id,
        "status": TaskStatus(state.status).name.lower(),
        "rounds_planned": params.num_rounds,
        "latest_model_hash": hex32(state.latest_model_hash),
        "initial_model_hash": hex32(params.initial_model_hash),
        "final_metrics": final["metrics"] if final else {},
        "participants": [p.__dict__ for p in participants],
        "rounds": rounds,
        "totals": totals,
        "token_prices": prices,
        "markets": markets,
        "gas": {
            "setup": setup_gas,
            "total": sum(setup_gas.values()) + sum(sum(g.values()) for g in per_round_gas),
        },
    }
