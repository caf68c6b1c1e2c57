"""Fixtures of the Flower tests that make Flower messages outside a Flower run."""

from __future__ import annotations

import pytest


@pytest.fixture()
def task_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages are made inside a Flower run, whose identity the process knows: play one."""
    from flwr.supercore.task_identity import TaskIdentity

    for name in ("_run_id", "_task_id", "_node_id"):
        monkeypatch.setattr(TaskIdentity, name, 1)
