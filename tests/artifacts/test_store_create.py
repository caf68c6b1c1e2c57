"""``fl-node store create``: the operator's one-time set-up of the shared store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fl_node.artifacts.store import ArtifactStore
from fl_node.cli import main


def test_creates_a_bucket_once_and_the_store_then_opens(
    s3_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"s3://fed-{uuid.uuid4().hex[:12]}/run-1"
    assert main(["store", "create", url]) == 0
    assert f"created bucket of {url}" in capsys.readouterr().out
    store = ArtifactStore(url, read_only=True)  # a missing bucket would be a ConfigError
    assert not store.exists("0x" + "ab" * 32, owner="0x" + "11" * 20)
    assert main(["store", "create", url]) == 0
    assert f"already there: bucket of {url}" in capsys.readouterr().out


def test_without_an_endpoint_it_is_one_clear_error(
    s3_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FL_NODE_S3_ENDPOINT")
    assert main(["store", "create", "s3://anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no S3 endpoint for s3://anything") and "Traceback" not in err


def test_an_unreachable_endpoint_is_one_clear_error(
    s3_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.artifacts.conftest import free_port

    monkeypatch.setenv("FL_NODE_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    assert main(["store", "create", "s3://anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the S3 endpoint") and "Traceback" not in err


def test_a_local_store_folder_is_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = tmp_path / "shared" / "store"
    assert main(["store", "create", f"file://{where}"]) == 0
    assert (where / "participants").is_dir()
    assert "is ready" in capsys.readouterr().out


@pytest.mark.parametrize("url", ["", "memory://x"])
def test_stores_other_processes_cannot_share_are_refused(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["store", "create", url]) == 2
    assert capsys.readouterr().err.startswith("error: --store")
