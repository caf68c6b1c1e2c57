"""An independent recomputation of posted rounds from the chain and the artifact store alone.

For a round, the auditor first checks the evidence: every document the round's numbers derive
from is in the store, under its writer's prefix, and still hashes to its on-chain name (the
parent model, each revealed update, the posted global model and the posted results table). Then
it rebuilds the round's inputs exactly as the aggregator had them (the escrow budget is read at
the block before the post), recomputes the round with the same pure engine, and compares the
global model hash, the Merkle root, and every client's score, stake payout and reward with what
was posted.

The two kinds of failure mean different things, and are told apart:

* **evidence missing or altered** (a document is absent, or its bytes no longer hash to the
  on-chain hash): the round cannot be verified from this store; a recomputed number that then
  differs is *unverified*, not wrong, since it was computed without the missing evidence;
* **posted numbers wrong** (the evidence is intact, the recomputation differs): the aggregator
  posted numbers that its own inputs do not give; challenge the round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fl_node.artifacts.store import ArtifactAltered, ArtifactMissing, ArtifactStore
from fl_node.federation.engine import RoundOutput, RoundSetup, compute_round
from fl_node.federation.inputs import round_inputs
from fl_node.federation.protocol import FederationApi, Phase, RoundState, hex32
from fl_node.federation.results import RoundResults
from fl_node.federation.storage import fetch_results, model_owner

ABSENT = "absent"
ALTERED = "altered"
NOT_RECOMPUTED = "not recomputed"

#: A check's status: what the audit found.
OK, WRONG, UNVERIFIED, MISSING, CHANGED = "ok", "wrong", "unverified", "missing", "altered"


@dataclass(frozen=True)
class Check:
    """One comparison: ``posted`` is what the chain (or the posted table) says, ``recomputed``
    what the store's evidence gives. ``kind`` is ``"evidence"`` (a document in the store) or
    ``"number"`` (a posted number); ``verifiable`` is False for the numbers of a round whose
    evidence is not intact."""

    round: int
    item: str
    posted: str
    recomputed: str
    kind: str = "number"
    verifiable: bool = True

    @property
    def ok(self) -> bool:
        return self.posted == self.recomputed

    @property
    def status(self) -> str:
        if self.ok:
            return OK
        if self.kind == "evidence":
            return MISSING if self.recomputed == ABSENT else CHANGED
        return WRONG if self.verifiable else UNVERIFIED


def _evidence(number: int, item: str, expected: str, fetch: Any) -> Check:
    """An evidence check: ``fetch()`` reads the document (raising ArtifactMissing/Altered)."""
    try:
        fetch()
        found = expected
    except ArtifactMissing:
        found = ABSENT
    except ArtifactAltered:
        found = ALTERED
    return Check(number, item, expected, found, kind="evidence")


def evidence_checks(
    api: FederationApi, store: ArtifactStore, number: int, info: RoundState, opened: int
) -> list[Check]:
    """Is every document the round's numbers derive from in the store, intact, under the prefix
    of the participant who had to write it? (Other read failures raise ArtifactError.)"""
    aggregator = api.params().aggregator
    parent = info.parent_model_hash
    checks = [
        _evidence(
            number,
            "parent model",
            hex32(parent),
            lambda: store.get(hex32(parent), owner=model_owner(api, parent)),
        )
    ]
    for reveal in api.reveals(number, opened).values():
        checks.append(
            _evidence(
                number,
                f"update of {reveal.client[:10]}",
                hex32(reveal.update_hash),
                lambda r=reveal: store.get(hex32(r.update_hash), owner=r.client),
            )
        )
    checks.append(
        _evidence(
            number,
            "global model",
            hex32(info.model_hash),
            lambda: store.get(hex32(info.model_hash), owner=aggregator),
        )
    )
    checks.append(
        _evidence(
            number,
            "results table",
            hex32(info.results_root),
            lambda: fetch_results(store, info.results_root, owner=aggregator),
        )
    )
    return checks


def number_checks(
    number: int,
    info: RoundState,
    output: RoundOutput | None,
    posted: RoundResults | None,
    verifiable: bool,
) -> list[Check]:
    """The posted model hash, root and every posted row against the recomputation."""

    def check(item: str, posted_value: str, mine: str) -> Check:
        return Check(number, item, posted_value, mine, "number", verifiable)

    def recomputed(value: Any) -> str:
        return NOT_RECOMPUTED if output is None else str(value)

    checks = [
        check(
            "global model hash",
            hex32(info.model_hash),
            NOT_RECOMPUTED if output is None else hex32(output.model_hash),
        ),
        check(
            "results root",
            hex32(info.results_root),
            NOT_RECOMPUTED if output is None else hex32(output.results.root),
        ),
    ]
    if posted is None:
        return checks
    rows = {} if output is None else {r.client.lower(): r for r in output.results.rows}
    for row in posted.rows:
        mine = rows.get(row.client.lower())
        for name in ("score", "payout", "reward"):
            value = recomputed(getattr(mine, name) if mine is not None else "absent")
            checks.append(check(f"{name} of {row.client[:10]}", str(getattr(row, name)), value))
    return checks


def audit_round(
    api: FederationApi, store: ArtifactStore, ctx: RoundSetup, number: int, from_block: int = 0
) -> list[Check]:
    info = api.round(number)
    if info.phase == Phase.ABORTED:
        return [Check(number, "phase", "aborted", "aborted")]  # nothing was posted to check
    if info.phase not in (Phase.POSTED, Phase.CHALLENGED, Phase.FINALIZED):
        return [Check(number, "phase", Phase(info.phase).name.lower(), "posted or finalized")]
    opened = api.round_opened_block(number, from_block)
    posted_at = api.round_posted_block(number, from_block)
    if opened is None or posted_at is None:
        return [Check(number, "events", "missing RoundOpened/RoundPosted", "present")]
    evidence = evidence_checks(api, store, number, info, opened)
    intact = all(c.ok for c in evidence)
    output: RoundOutput | None = None
    try:
        inputs = round_inputs(api, store, number, opened, budget_block=posted_at - 1)
        output = compute_round(inputs, ctx)
    except (ArtifactMissing, ArtifactAltered) as exc:
        if intact:  # not the parent: an earlier round's results table (for reputations)
            found = ABSENT if isinstance(exc, ArtifactMissing) else ALTERED
            evidence.append(Check(number, "earlier results tables", "intact", found, "evidence"))
            intact = False
    try:
        posted: RoundResults | None = fetch_results(
            store, info.results_root, owner=api.params().aggregator
        )
    except (ArtifactMissing, ArtifactAltered):
        posted = None
    return evidence + number_checks(number, info, output, posted, intact)


def summarize(checks: list[Check]) -> dict[str, Any]:
    """Counts of each status, and ``ok`` when every check passed."""
    counts = {s: sum(c.status == s for c in checks) for s in (WRONG, UNVERIFIED, MISSING, CHANGED)}
    return {"checks": len(checks), **counts, "ok": all(c.ok for c in checks)}
