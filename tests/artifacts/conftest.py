"""A standalone S3 server (moto's) for the tests of ``s3://`` stores: started once per session on
a free port as a process of its own, and stopped by its PID at the end."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fl_node.toolchain.localchain import free_port as free_port  # the tests' one port picker

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: Variables that would point botocore elsewhere than the test's server and keys.
AWS_VARS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "FL_NODE_S3_ENDPOINT",
    "AWS_REGION", "AWS_DEFAULT_REGION",
)  # fmt: skip


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server running for this session."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, f"moto exited: {log.read_text()}"
                assert time.monotonic() < deadline, f"moto did not start: {log.read_text()}"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def isolate_aws(env: pytest.MonkeyPatch, tmp: Any) -> None:
    """No AWS setting of this machine leaks in (files, profiles, instance metadata)."""
    for name in AWS_VARS:
        env.delenv(name, raising=False)
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-credentials"))
    env.setenv("AWS_CONFIG_FILE", str(tmp / "no-config"))
    env.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    """This test's environment: the server's endpoint and test keys, nothing else of AWS."""
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("FL_NODE_S3_ENDPOINT", s3_endpoint)
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return s3_endpoint


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket."""
    name = f"fl-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def buckets(endpoint: str) -> set[str]:
    return {b["Name"] for b in s3_client(endpoint).list_buckets()["Buckets"]}


def keys(endpoint: str, bucket_name: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket_name)
    return sorted(o["Key"] for o in listing.get("Contents", []))
