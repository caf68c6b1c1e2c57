"""A daemon's files in its work folder: keyed by chain, deployment, task and account, and held
with an exclusive lock, so one folder serves any number of tasks and accounts without mixing
their state, and two daemons of one account on one task cannot run at once."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from fl_node.errors import ConfigError
from fl_node.federation.protocol import FederationApi


def state_key(api: FederationApi, address: str) -> str:
    """What a daemon's state files are keyed by: chain, deployment, task and account, so one
    work folder serves any number of tasks and clients without mixing them up."""
    federation = str(api.federation.address).lower()
    return f"{api.client.chain_id}-{federation[2:10]}-t{api.task_id}-{address.lower()[2:10]}"


def hold_lock(path: Path, who: str) -> IO[str]:
    """An exclusive lock on ``path`` for this process's lifetime (released when it exits):
    two daemons of one account on one task would send conflicting transactions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (held open for the process's life)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(
            f"another daemon of {who} is already running on this task with this work folder "
            f"({path}): stop it first"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
