"""Contribution scoring: who made this round's model better, and by how much.

A round is a cooperative game over the valid client updates (:mod:`.game`); the methods in
:mod:`.methods` split the round's utility gain among them (leave-one-out, exact, Monte-Carlo and
GTG Shapley, cosine similarity, data size); :mod:`.numerai` adds each update's own quality and
combines both into the Numerai-style score that the stake payout uses.
"""

from __future__ import annotations

from fl_node.contribution.game import Game, build_game
from fl_node.contribution.methods import (
    EXACT_MAX_PLAYERS,
    METHODS,
    Contribution,
    compute_contributions,
)
from fl_node.contribution.numerai import ScoreTable, numerai_scores

__all__ = [
    "EXACT_MAX_PLAYERS",
    "METHODS",
    "Contribution",
    "Game",
    "ScoreTable",
    "build_game",
    "compute_contributions",
    "numerai_scores",
]
