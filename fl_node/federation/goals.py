"""Idempotent chain actions decided by the chain's state, never by the name of a revert.

A daemon's action can fail because someone else reached its goal first: a keeper settled the
stake the client was settling, in the same block; the daemon itself did it before a restart, or
in a transaction whose receipt was lost. Such a revert cannot always be named (a replay of a
transaction that lost a race in its own block succeeds), so after any revert :func:`reach` reads
the state the action was meant to change: if the goal is reached, the action counts as done.

``reached(block)`` reads the goal at ``"latest"`` (mined) and then at ``"pending"`` (a competing
transaction on its way, which made a gas estimate revert): the latter only means "look again on
the next step", since a pending transaction can still be dropped. ``later(revert)`` says whether
the chain's state or clock only says "not now" (a deadline that has not passed in the latest
block, a commit set that moved, a window that closed): the caller looks again on its next step.
Any other revert is re-raised.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from web3.types import BlockIdentifier

from fl_node.chain.client import TxReverted


class Outcome(Enum):
    SENT = "sent"  # this call reached the goal
    ALREADY = "already"  # the goal was reached by someone else (or an earlier attempt)
    LATER = "later"  # not now: a competing transaction is pending, or a deadline not passed yet

    @property
    def done(self) -> bool:
        return self is not Outcome.LATER


def reach(
    action: Callable[[], object],
    reached: Callable[[BlockIdentifier], bool],
    later: Callable[[TxReverted], bool] | None = None,
) -> Outcome:
    """Run ``action``; after a revert, decide by the state whether its goal is reached."""
    try:
        action()
    except TxReverted as exc:
        if reached("latest"):
            return Outcome.ALREADY
        if reached("pending") or (later is not None and later(exc)):
            return Outcome.LATER
        raise
    return Outcome.SENT
