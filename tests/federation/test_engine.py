"""The round engine without a chain: verification, exclusion reasons, settlement, determinism."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from fl_node.app.client import ClientApp, Context
from fl_node.artifacts.codec import encode_weights, keccak
from fl_node.configs import load_config
from fl_node.federation.context import TaskContext
from fl_node.federation.engine import (
    EXCLUDED_SCORE,
    Money,
    RoundInputs,
    Submission,
    compute_round,
)
from fl_node.federation.node import update_blob
from fl_node.settlement.payout import stake_payout
from fl_node.simulation.apps import client_fn

WAD = 10**18
STAKE = 50 * WAD
ADDRS = ["0x" + f"{i + 1:040x}" for i in range(6)]


@pytest.fixture(scope="module")
def ctx() -> TaskContext:
    return TaskContext(load_config("tiny"))


@pytest.fixture(scope="module")
def honest_blobs(ctx: TaskContext) -> list[bytes]:
    blobs = []
    for i in range(3):  # the tiny config's simulated clients: clean, noisy, free-rider
        app = ClientApp(client_fn, "simulated client")
        context = Context(ADDRS[i], {"partition-id": i}, {"task-config": "tiny"})
        blobs.append(update_blob(app, context, ctx.layout, 1, ctx.initial_blob, ADDRS[i]))
    return blobs


def _sub(client: str, blob: bytes | None, committed: bytes | None = None) -> Submission:
    digest = committed if committed is not None else keccak(blob or b"")
    return Submission(client, digest, STAKE, blob)


def _money(ctx: TaskContext) -> Money:
    fed = ctx.config.federation
    return Money(
        payout_threshold=ctx.config.wei(fed.payout_threshold),
        payout_cap=ctx.config.wei(fed.payout_cap),
        reward_per_round=ctx.config.wei(fed.reward_per_round),
    )


def _inputs(subs: list[Submission], budget: int = 500 * WAD) -> RoundInputs:
    money = _money(TaskContext(load_config("tiny")))
    return RoundInputs(1, 1, b"", tuple(subs), STAKE * len(subs), budget, money)


def _run(ctx: TaskContext, subs: list[Submission], budget: int = 500 * WAD):  # type: ignore[no-untyped-def]
    inputs = _inputs(subs, budget)
    inputs = RoundInputs(**{**inputs.__dict__, "parent_blob": ctx.initial_blob})
    return compute_round(inputs, ctx)


def test_same_inputs_same_bytes(ctx: TaskContext, honest_blobs: list[bytes]) -> None:
    subs = [_sub(a, b) for a, b in zip(ADDRS, honest_blobs, strict=False)]
    first, second = _run(ctx, subs), _run(ctx, list(reversed(subs)))
    assert first.model_hash == second.model_hash  # the commit order does not matter
    assert first.results.to_bytes() == second.results.to_bytes()
    assert first.results.root == second.results.root
    assert keccak(first.model_blob) == first.model_hash


def test_payouts_and_rewards_follow_the_contract_formula(
    ctx: TaskContext, honest_blobs: list[bytes]
) -> None:
    subs = [_sub(a, b) for a, b in zip(ADDRS, honest_blobs, strict=False)]
    out = _run(ctx, subs)
    fed = ctx.config.federation
    threshold, cap = ctx.config.wei(fed.payout_threshold), ctx.config.wei(fed.payout_cap)
    for row in out.results.rows:
        assert row.payout == stake_payout(STAKE, row.score, STAKE * 3, threshold, cap)
        assert abs(row.payout) <= STAKE * cap // WAD
    rewards = [r.reward for r in out.results.rows]
    assert all(r >= 0 for r in rewards)
    assert 0 < sum(rewards) <= ctx.config.wei(fed.reward_per_round)
    # the free-rider (client 2 of the tiny config) sent the global model back: no reward
    assert out.results.row(ADDRS[2]).reward == 0


def test_a_free_rider_is_excluded(ctx: TaskContext, honest_blobs: list[bytes]) -> None:
    # Client 2 of the tiny config sends the global model back unchanged.
    subs = [_sub(a, b) for a, b in zip(ADDRS, honest_blobs, strict=False)]
    row = _run(ctx, subs).results.row(ADDRS[2])
    assert not row.included and "free-riding" in row.reason
    assert row.score == EXCLUDED_SCORE and row.reward == 0


def _nan_blob(blob: bytes) -> bytes:
    """The same blob with its last float replaced by NaN (a valid hash of invalid content)."""
    return blob[:-4] + struct.pack("<f", float("nan"))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda b: (b, keccak(b"something else")), "hash mismatch"),
        (lambda b: (b[:-10], keccak(b[:-10])), "rejected"),
        (lambda b: (_nan_blob(b), keccak(_nan_blob(b))), "rejected"),
        (lambda b: (None, keccak(b)), "no blob"),
    ],
    ids=["hash-mismatch", "truncated", "nan", "missing"],
)
def test_bad_updates_are_excluded_and_burned(
    ctx: TaskContext, honest_blobs: list[bytes], make, reason: str
) -> None:  # type: ignore[no-untyped-def]
    blob, committed = make(honest_blobs[1])
    subs = [_sub(ADDRS[0], honest_blobs[0]), _sub(ADDRS[1], blob, committed)]
    out = _run(ctx, subs)
    bad = out.results.row(ADDRS[1])
    assert not bad.included
    assert reason in bad.reason
    assert bad.score == EXCLUDED_SCORE
    fed = ctx.config.federation
    assert bad.payout == -STAKE * ctx.config.wei(fed.payout_cap) // WAD  # the full clipped burn
    assert bad.reward == 0
    assert out.results.row(ADDRS[0]).included


def test_wrong_shapes_are_rejected(ctx: TaskContext, honest_blobs: list[bytes]) -> None:
    wrong = encode_weights({"w": np.zeros((2, 2), dtype=np.float32)}, {"num_samples": 10})
    out = _run(ctx, [_sub(ADDRS[0], honest_blobs[0]), _sub(ADDRS[1], wrong)])
    row = out.results.row(ADDRS[1])
    assert not row.included and "rejected" in row.reason


def test_a_copied_update_is_a_duplicate(ctx: TaskContext, honest_blobs: list[bytes]) -> None:
    from fl_node.artifacts.codec import decode_weights

    weights, meta = decode_weights(honest_blobs[0])
    copy = encode_weights(weights, {**meta, "client": ADDRS[1]})  # same tensors, other metadata
    out = _run(ctx, [_sub(ADDRS[0], honest_blobs[0]), _sub(ADDRS[1], copy)])
    assert out.results.row(ADDRS[0]).included
    copied = out.results.row(ADDRS[1])
    assert not copied.included and "duplicate" in copied.reason


def test_an_unrevealed_commitment_is_excluded_and_burned(
    ctx: TaskContext, honest_blobs: list[bytes]
) -> None:
    subs = [_sub(ADDRS[0], honest_blobs[0]), Submission(ADDRS[1], None, STAKE, None)]
    out = _run(ctx, subs)
    row = out.results.row(ADDRS[1])
    assert not row.included
    assert row.update_hash == ""
    assert "not revealed" in row.reason
    assert row.score == EXCLUDED_SCORE
    cap = ctx.config.wei(ctx.config.federation.payout_cap)
    assert row.payout == -(STAKE * cap // WAD)  # the full clipped burn
    assert out.results.row(ADDRS[0]).included


def test_no_usable_update_keeps_the_model(ctx: TaskContext, honest_blobs: list[bytes]) -> None:
    out = _run(ctx, [_sub(ADDRS[0], None, keccak(honest_blobs[0]))])
    from fl_node.artifacts.codec import decode_weights

    new, _ = decode_weights(out.model_blob)
    old, _ = decode_weights(ctx.initial_blob)
    assert all(np.array_equal(new[k], old[k]) for k in old)
    assert out.results.total_reward == 0


def test_rewards_stop_at_the_escrow_budget(ctx: TaskContext, honest_blobs: list[bytes]) -> None:
    subs = [_sub(a, b) for a, b in zip(ADDRS, honest_blobs, strict=False)]
    out = _run(ctx, subs, budget=10 * WAD)
    assert out.results.total_reward + out.results.total_payout <= 10 * WAD
