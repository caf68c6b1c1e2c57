"""A short federation whose artifact store is an S3 bucket (a standalone S3 server): a sponsor,
an aggregator and three client processes share it, each writing only under its own prefix; a
read-only audit of the bucket passes and writes nothing, and one of a mistyped bucket is one
error line that creates no bucket."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fl_node.cli import main
from fl_node.configs import load_config
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus, hex32
from fl_node.simulation.localfed import LocalFederation
from tests.artifacts.conftest import buckets, keys


def test_a_federation_over_an_s3_store(
    s3_env: str, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config("tiny")
    config = config.replace(federation=dataclasses.replace(config.federation, rounds=1))
    # the node and aggregator processes inherit this process's S3 settings (s3_env)
    with LocalFederation(config, tmp_path / "run", store=f"s3://{bucket}/fed") as fed:
        fed.setup(say=lambda _m: None)
        fed.start_processes()
        fed.wait(timeout=240)
        api = FederationApi(fed.client, fed.task_id)
        assert api.state().status == TaskStatus.COMPLETED
        info = api.round(1)
        assert info.phase == Phase.FINALIZED
        stored = keys(s3_env, bucket)
        writers = {key.split("/")[2] for key in stored}
        clients = {a.address for a in fed.client_accounts}
        assert writers == {fed.sponsor.address, fed.aggregator.address} | clients
        aggregator = f"fed/participants/{fed.aggregator.address}"
        assert f"{aggregator}/blobs/{hex32(info.model_hash)[2:]}" in stored
        assert f"{aggregator}/named/results-{hex32(info.results_root)[2:]}.json" in stored
        for reveal in api.reveals(1).values():
            assert f"fed/participants/{reveal.client}/blobs/{hex32(reveal.update_hash)[2:]}" in (
                stored
            )
        audit = [
            "audit", "--rpc", fed.chain.rpc_url, "--deployment", str(fed.deployment_path),
            "--config", str(fed.config_path), "--task", str(fed.task_id), "--all",
        ]  # fmt: skip
        capsys.readouterr()
        assert main(audit) == 0, capsys.readouterr().out
        assert "0 posted number(s) wrong, 0 evidence item(s) missing or altered" in (
            capsys.readouterr().out
        )
        assert keys(s3_env, bucket) == stored  # read-only: nothing written
        before = buckets(s3_env)
        assert main([*audit, "--store", "s3://fed-typo"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: S3 bucket 'fed-typo' does not exist") and err.count("\n") == 1
        assert buckets(s3_env) == before  # the mistyped bucket was not created
