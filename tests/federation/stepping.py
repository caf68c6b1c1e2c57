"""A whole federation stepped in the test's own process, up to a chosen point."""

from __future__ import annotations

import time
from collections.abc import Sequence

from fl_node.federation.protocol import FederationApi, Phase
from fl_node.simulation.localfed import Steppable


def step_until_finalized(
    api: FederationApi, daemons: Sequence[Steppable], number: int = 1, timeout: float = 180.0
) -> None:
    """Step every daemon in turn (the aggregator last) until round ``number`` is finalized."""
    deadline = time.monotonic() + timeout
    while api.state().current_round < number or api.round(number).phase != Phase.FINALIZED:
        assert time.monotonic() < deadline, f"round {number} was not finalized in time"
        for daemon in daemons:
            daemon.step()
