"""A round's inputs, rebuilt from the chain and the artifact store alone.

The aggregator builds them to compute a round; an auditor rebuilds the very same inputs later
(reading the escrow's budget at the block before the round was posted) and recomputes the round.
"""

from __future__ import annotations

from functools import partial

from web3.types import BlockIdentifier

from fl_node.artifacts.store import ArtifactStore
from fl_node.federation.engine import Money, RoundInputs, Submission, submissions_from
from fl_node.federation.protocol import FederationApi, Phase, TaskParams
from fl_node.federation.reputation import reputations
from fl_node.federation.results import RoundResults
from fl_node.federation.storage import fetch_model, fetch_results

#: Results tables of rounds that ended, by round (None: aborted, no table). An ended round never
#: changes, so a caller that computes round after round keeps one and reads each round once.
History = dict[int, RoundResults | None]


def previous_results(
    api: FederationApi, store: ArtifactStore, number: int, history: History | None = None
) -> list[RoundResults]:
    """Results tables of the finalized rounds before ``number`` (for reputations). Rounds that
    ``history`` holds are not read again; the ended ones read now are added to it."""
    known: History = {} if history is None else history
    aggregator = api.params().aggregator
    for earlier in range(1, number):
        if earlier in known:
            continue
        info = api.round(earlier)
        if info.phase == Phase.FINALIZED:
            known[earlier] = fetch_results(store, info.results_root, owner=aggregator)
        elif info.phase.ended:
            known[earlier] = None
    return [t for n, t in sorted(known.items()) if n < number and t is not None]


def submission(
    store: ArtifactStore, client: str, update_hash: bytes | None, stake: int
) -> Submission:
    """A client's submission, its revealed update read only from the client's own prefix."""
    fetch = partial(store.get, owner=client)
    return submissions_from([(client, update_hash, stake)], fetch)[0]


def money_of(params: TaskParams) -> Money:
    return Money(
        payout_threshold=params.payout_threshold,
        payout_cap=params.payout_cap,
        reward_per_round=params.reward_per_round,
    )


def round_inputs(
    api: FederationApi,
    store: ArtifactStore,
    number: int,
    opened_block: int,
    budget_block: BlockIdentifier = "latest",
    history: History | None = None,
) -> RoundInputs:
    """Inputs of round ``number``: every commitment (with its revealed update, fetched from the
    client's own prefix in the store, or none); ``budget_block`` is where the escrow's budget is
    read; ``history``: the ended rounds' tables already read (see :func:`previous_results`)."""
    info = api.round(number)
    commits = api.commits(number, opened_block)
    reveals = api.reveals(number, opened_block)
    revealed = [
        (c.client, reveals[c.client.lower()].update_hash if c.client.lower() in reveals else None)
        for c in commits
    ]
    submissions = tuple(
        submission(store, client, update, c.stake)
        for (client, update), c in zip(revealed, commits, strict=True)
    )
    unreleased = api.budget(budget_block).unreleased
    earlier = previous_results(api, store, number, history)
    return RoundInputs(
        task_id=api.task_id,
        round=number,
        parent_blob=fetch_model(store, api, info.parent_model_hash),
        submissions=submissions,
        total_at_risk=info.total_at_risk,
        budget_available=unreleased,
        money=money_of(api.params()),
        reputations=reputations(earlier),
        history=tuple(earlier),
    )
