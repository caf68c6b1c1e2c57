"""Numerai-style score table: own quality (CORR analogue) and marginal contribution (MMC).

Numerai pays ``clip(f * (0.5 CORR + 2 MMC))``. Here CORR is the validation gain of a client's
update applied alone to the previous model, and MMC its contribution to the aggregate as measured
by one of the contribution methods; the multipliers come from the task config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fl_node.contribution.game import Game
from fl_node.errors import ConfigError


@dataclass(frozen=True, eq=False)
class ScoreTable:
    own: np.ndarray  # utility(g + delta_i) - utility(g)
    marginal: np.ndarray  # the contribution method's values
    combined: np.ndarray  # corr_multiplier * own + mmc_multiplier * marginal


def numerai_scores(
    game: Game, marginal: np.ndarray, corr_multiplier: float, mmc_multiplier: float
) -> ScoreTable:
    """Own, marginal and combined scores (one evaluation per own score, memoized on the game)."""
    for name, m in (("corr_multiplier", corr_multiplier), ("mmc_multiplier", mmc_multiplier)):
        if isinstance(m, bool) or not isinstance(m, int | float) or not math.isfinite(m):
            raise ConfigError(f"{name} must be a finite number, got {m!r}")
    marg = np.asarray(marginal, dtype=np.float64)
    if marg.shape != (game.n,):
        raise ConfigError(f"marginal has shape {marg.shape}, expected ({game.n},)")
    if not np.all(np.isfinite(marg)):
        raise ConfigError("marginal contributions must be finite")
    own = np.array([game.own(i) for i in range(game.n)], dtype=np.float64)
    combined = float(corr_multiplier) * own + float(mmc_multiplier) * marg
    return ScoreTable(own=own, marginal=marg.copy(), combined=combined)
