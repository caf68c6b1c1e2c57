"""Flower's simulation engine as fl-node runs it: one Ray actor per core.

An actor is a process that runs ClientApp messages one at a time, for whichever virtual SuperNode
Flower hands it. One per core is Flower's usual setting on a CPU machine: more actors than cores
contend for them, and each holds its own interpreter, torch and model (about 300 MB here). With
fewer actors than SuperNodes a settled run needs the settling mod's ``background`` reveals
(:data:`fl_node.flower.client.REVEAL`): a client that held its actor until every other had
committed would leave no actor for the rest.
"""

from __future__ import annotations

import os
from typing import Any


def simulation_actors(nodes: int, asked: int | None = None, cores: int | None = None) -> int:
    """Ray actors for ``nodes`` virtual SuperNodes: ``asked``, else one per core (``cores``,
    default this machine's), and never more than the SuperNodes."""
    wanted = asked if asked is not None else (cores if cores is not None else os.cpu_count())
    return max(1, min(nodes, wanted or 1))


def backend_config(actors: int) -> dict[str, Any]:
    """``run_simulation``'s backend config for ``actors`` Ray actors of one CPU each (no
    dashboard, no GPU)."""
    return {
        "init_args": {"num_cpus": actors, "include_dashboard": False},
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    }
