"""The per-round results table: what the aggregator posts a Merkle root of.

Every client that committed in the round has one row: its update hash, whether the update was used
(and why not), its scores, its stake payout (negative: burned) and its reward. The table is stored
in the artifact store under its Merkle root, so anyone holding the root (it is on-chain) fetches
the table, checks that it hashes to the root, and gets the proof of any row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from fl_node.addresses import checksummed as _checksummed
from fl_node.errors import ArtifactError
from fl_node.settlement.merkle import MerkleTree, ResultLeaf


@dataclass(frozen=True)
class ResultRow:
    client: str
    update_hash: str
    stake: int
    included: bool
    reason: str  # why the update was excluded; "" when included
    num_samples: int
    own: float  # validation gain of the update applied alone (the CORR analogue)
    marginal: float  # contribution to the aggregate (the MMC analogue)
    score: int  # combined score, WAD fixed point: what the contract clips and pays
    payout: int  # stake payout in wei as the contract will compute it (negative = burn)
    reward: int  # reward in wei

    def leaf(self, task_id: int, round_number: int) -> ResultLeaf:
        return ResultLeaf(
            task_id=task_id,
            round=round_number,
            client=_checksummed(self.client),
            score=self.score,
            reward=self.reward,
        )


@dataclass(frozen=True)
class RoundResults:
    task_id: int
    round: int
    parent_model_hash: str
    model_hash: str
    rows: tuple[ResultRow, ...]
    metrics: dict[str, float] = field(default_factory=dict)  # validation/test loss and accuracy

    @property
    def total_reward(self) -> int:
        return sum(r.reward for r in self.rows)

    @property
    def total_payout(self) -> int:
        """Positive stake payouts: what the escrow must reserve for this round."""
        return sum(r.payout for r in self.rows if r.payout > 0)

    @property
    def total_burn(self) -> int:
        return -sum(r.payout for r in self.rows if r.payout < 0)

    @cached_property
    def tree(self) -> MerkleTree:
        """Built once per table: the root and every proof come from it."""
        return MerkleTree.build([row.leaf(self.task_id, self.round) for row in self.rows])

    @property
    def root(self) -> bytes:
        return bytes(self.tree.root)

    def row(self, client: str) -> ResultRow:
        wanted = client.lower()
        for row in self.rows:
            if row.client.lower() == wanted:
                return row
        raise KeyError(client)

    def proof(self, client: str) -> list[bytes]:
        row = self.row(client)
        return [bytes(p) for p in self.tree.proof(row.leaf(self.task_id, self.round))]

    # -- storage ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "round": self.round,
            "parent_model_hash": self.parent_model_hash,
            "model_hash": self.model_hash,
            "metrics": self.metrics,
            "rows": [asdict(r) for r in self.rows],
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoundResults:
        try:
            return cls(
                task_id=int(data["task_id"]),
                round=int(data["round"]),
                parent_model_hash=str(data["parent_model_hash"]),
                model_hash=str(data["model_hash"]),
                metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
                rows=tuple(ResultRow(**row) for row in data["rows"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"not a results table ({exc!r})") from exc

    @classmethod
    def from_bytes(cls, blob: bytes, expected_root: bytes | None = None) -> RoundResults:
        try:
            table = cls.from_json(json.loads(blob))
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"results table is not JSON ({exc})") from exc
        if expected_root is not None and table.root != bytes(expected_root):
            raise ArtifactError(
                f"results table of round {table.round} does not hash to the posted root "
                f"0x{bytes(expected_root).hex()}"
            )
        return table


def sorted_rows(rows: Sequence[ResultRow]) -> tuple[ResultRow, ...]:
    """Rows in a canonical order (by client address), so the table's bytes are deterministic."""
    return tuple(sorted(rows, key=lambda r: r.client.lower()))
