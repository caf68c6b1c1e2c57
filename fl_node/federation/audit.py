"""An independent recomputation of posted rounds from the chain and the artifact store alone.

For a round, the auditor checks every revealed blob against its on-chain hash, rebuilds the
round's inputs exactly as the aggregator had them (the escrow budget is read at the block before
the post), recomputes the round with the same pure engine, and compares the global model hash,
the Merkle root, and every client's score, stake payout and reward with what was posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fl_node.artifacts.codec import keccak
from fl_node.artifacts.store import ArtifactStore
from fl_node.errors import ArtifactError
from fl_node.federation.engine import RoundSetup, compute_round
from fl_node.federation.inputs import round_inputs
from fl_node.federation.protocol import FederationApi, Phase, hex32
from fl_node.federation.results import RoundResults
from fl_node.federation.storage import fetch_results


@dataclass(frozen=True)
class Check:
    round: int
    item: str
    posted: str
    recomputed: str

    @property
    def ok(self) -> bool:
        return self.posted == self.recomputed


def audit_round(
    api: FederationApi, store: ArtifactStore, ctx: RoundSetup, number: int, from_block: int = 0
) -> list[Check]:
    info = api.round(number)
    if info.phase == Phase.ABORTED:
        return [Check(number, "phase", "aborted", "aborted")]  # nothing was posted to check
    if info.phase not in (Phase.POSTED, Phase.CHALLENGED, Phase.FINALIZED):
        return [Check(number, "phase", Phase(info.phase).name.lower(), "posted or finalized")]
    checks: list[Check] = []
    opened = api.round_opened_block(number, from_block)
    posted_at = api.round_posted_block(number, from_block)
    if opened is None or posted_at is None:
        return [Check(number, "events", "missing RoundOpened/RoundPosted", "present")]
    for reveal in api.reveals(number, opened).values():
        try:
            digest = "0x" + keccak(store.get(hex32(reveal.update_hash))).hex()
        except ArtifactError as exc:
            digest = f"unavailable ({exc})"
        checks.append(
            Check(number, f"blob of {reveal.client[:10]}", hex32(reveal.update_hash), digest)
        )
    inputs = round_inputs(api, store, number, opened, budget_block=posted_at - 1)
    output = compute_round(inputs, ctx)
    checks.append(
        Check(number, "global model hash", hex32(info.model_hash), hex32(output.model_hash))
    )
    checks.append(
        Check(number, "results root", hex32(info.results_root), hex32(output.results.root))
    )
    posted: RoundResults | None
    try:
        posted = fetch_results(store, info.results_root)
    except ArtifactError as exc:
        checks.append(Check(number, "posted results table", f"unreadable ({exc})", "readable"))
        posted = None
    if posted is not None:
        recomputed = {r.client.lower(): r for r in output.results.rows}
        for row in posted.rows:
            mine = recomputed.get(row.client.lower())
            for name in ("score", "payout", "reward"):
                value = getattr(mine, name) if mine is not None else "absent"
                checks.append(
                    Check(
                        number, f"{name} of {row.client[:10]}", str(getattr(row, name)), str(value)
                    )
                )
    return checks


def summarize(checks: list[Check]) -> dict[str, Any]:
    bad = [c for c in checks if not c.ok]
    return {"checks": len(checks), "mismatches": len(bad), "ok": not bad}
