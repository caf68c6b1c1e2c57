"""``s3://`` stores against a standalone S3 server: the same layout as on disk, and one clear
error (never a botocore traceback, never a created bucket) for each setting that is wrong."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fl_node.artifacts.codec import hash_hex
from fl_node.artifacts.shared import open_shared_store
from fl_node.artifacts.store import ArtifactAltered, ArtifactMissing, ArtifactStore
from fl_node.errors import ArtifactError, ConfigError
from tests.artifacts.conftest import buckets, free_port, isolate_aws, keys, s3_client

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
MALLORY = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def test_round_trip_and_per_participant_layout(s3_env: str, bucket: str) -> None:
    store = ArtifactStore(f"s3://{bucket}/fed")
    digest = store.put(b"alice's update", owner=ALICE.lower())
    store.put_named("results-1.json", b"{}", owner=ALICE)
    assert store.get(digest, owner=ALICE) == b"alice's update"
    assert store.exists(digest, owner=ALICE) and not store.exists(digest, owner=MALLORY)
    assert store.get_named("results-1.json", owner=ALICE) == b"{}"
    assert keys(s3_env, bucket) == [
        f"fed/participants/{ALICE}/blobs/{digest[2:]}",
        f"fed/participants/{ALICE}/named/results-1.json",
    ]
    with pytest.raises(ArtifactMissing):
        store.get(digest, owner=MALLORY)


def test_altered_and_missing_objects_and_their_repair(s3_env: str, bucket: str) -> None:
    store = ArtifactStore(f"s3://{bucket}")
    digest = store.put(b"original", owner=ALICE)
    key = f"participants/{ALICE}/blobs/{digest[2:]}"
    s3_client(s3_env).put_object(Bucket=bucket, Key=key, Body=b"tampered")
    with pytest.raises(ArtifactAltered, match="hash to"):
        store.get(digest, owner=ALICE)
    assert store.ensure(b"original", owner=ALICE) is True
    assert store.get(digest, owner=ALICE) == b"original"
    s3_client(s3_env).delete_object(Bucket=bucket, Key=key)
    with pytest.raises(ArtifactMissing):
        store.get(digest, owner=ALICE)
    assert store.ensure(b"original", owner=ALICE) is True
    assert store.ensure(b"original", owner=ALICE) is False


def test_endpoint_and_settings_from_store_options(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = open_shared_store(f"s3://{bucket}", [f"endpoint_url={s3_endpoint}", "region=eu-west-1"])
    assert store.get(store.put(b"x", owner=ALICE), owner=ALICE) == b"x"


def test_a_public_bucket_is_read_anonymously(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s3_client(s3_endpoint).put_object(
        Bucket=bucket,
        Key=f"participants/{ALICE}/blobs/{hash_hex(b'pub')[2:]}",
        Body=b"pub",
        ACL="public-read",
    )
    isolate_aws(monkeypatch, tmp_path)  # no credentials at all
    store = open_shared_store(
        f"s3://{bucket}", [f"endpoint_url={s3_endpoint}", "anon=true"], read_only=True
    )
    assert store.get(hash_hex(b"pub"), owner=ALICE) == b"pub"


# -- one clear error for each wrong setting ------------------------------------------------------
@pytest.mark.parametrize("read_only", [False, True])
def test_a_missing_bucket_is_an_error_and_is_never_created(s3_env: str, read_only: bool) -> None:
    before = buckets(s3_env)
    with pytest.raises(ConfigError, match="S3 bucket 'no-such-bucket' does not exist") as err:
        open_shared_store("s3://no-such-bucket/fed", read_only=read_only)
    assert "\n" not in str(err.value) and s3_env in str(err.value)
    assert buckets(s3_env) == before


def test_a_missing_endpoint_is_an_error(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FL_NODE_S3_ENDPOINT")
    with pytest.raises(ConfigError, match="no S3 endpoint for s3://b: set FL_NODE_S3_ENDPOINT"):
        ArtifactStore("s3://b")


def test_aws_endpoint_url_is_honoured(
    s3_env: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FL_NODE_S3_ENDPOINT")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env)
    assert ArtifactStore(f"s3://{bucket}").put(b"y", owner=ALICE) == hash_hex(b"y")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"endpoint_url": "127.0.0.1:9000"}, "must be an http:// or https:// URL"),
        ({"bucket_policy": "x"}, r"unknown store option\(s\) bucket_policy"),
        ({"anon": "maybe"}, "anon='maybe': use true or false"),
    ],
)
def test_bad_store_options(s3_env: str, options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ArtifactStore("s3://b", options=options)


def test_missing_credentials_are_an_error(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("FL_NODE_S3_ENDPOINT", s3_endpoint)
    with pytest.raises(ConfigError, match="no S3 credentials for s3://b: set AWS_ACCESS_KEY_ID"):
        ArtifactStore("s3://b")
    with pytest.raises(ConfigError, match="S3 profile 'nobody'"):
        ArtifactStore("s3://b", options={"profile": "nobody"})


def test_an_unreachable_endpoint_is_an_error(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("FL_NODE_S3_ENDPOINT", closed)
    start = time.monotonic()
    with pytest.raises(ConfigError, match=f"cannot reach the S3 endpoint {closed}") as err:
        ArtifactStore("s3://b", read_only=True)
    assert "\n" not in str(err.value)
    assert time.monotonic() - start < 30


def test_read_only_store_never_writes(s3_env: str, bucket: str) -> None:
    ArtifactStore(f"s3://{bucket}").put(b"evidence", owner=ALICE)
    before = keys(s3_env, bucket)
    store = ArtifactStore(f"s3://{bucket}", read_only=True)
    assert store.get(hash_hex(b"evidence"), owner=ALICE) == b"evidence"
    with pytest.raises(ArtifactError, match="read-only"):
        store.put(b"new", owner=ALICE)
    assert keys(s3_env, bucket) == before


def test_a_failing_write_is_an_artifact_error(s3_env: str, bucket: str) -> None:
    store = ArtifactStore(f"s3://{bucket}")
    s3_client(s3_env).delete_bucket(Bucket=bucket)  # gone after the store was opened
    with pytest.raises(ArtifactError, match="cannot"):
        store.put(b"update", owner=ALICE)
