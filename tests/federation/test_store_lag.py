"""A client whose store lags the chain waits for the global model instead of failing."""

from __future__ import annotations

import time
from pathlib import Path

from fl_node.artifacts.store import ArtifactStore
from fl_node.configs import load_config
from fl_node.federation.context import TaskContext
from fl_node.federation.protocol import FederationApi, hex32
from fl_node.simulation.localfed import LocalFederation
from tests.federation.helpers import open_first_round


def test_nodes_wait_for_a_missing_global_model(tmp_path: Path) -> None:
    with LocalFederation(load_config("tiny"), tmp_path / "run") as fed:
        fed.setup(say=lambda _m: None)
        api = FederationApi(fed.client, fed.task_id)
        initial = hex32(api.params().initial_model_hash)
        sponsor = fed.sponsor.address
        blob_path = fed.run_dir / "store" / "participants" / sponsor / "blobs" / initial[2:]
        blob = blob_path.read_bytes()
        blob_path.unlink()  # the chain knows the model, the store does not have it yet
        fed.start_processes(aggregator=False)
        open_first_round(fed, api)
        log = fed.run_dir / "logs" / "node-0.log"
        deadline = time.monotonic() + 120
        while "global model not available yet" not in (log.read_text() if log.exists() else ""):
            assert fed.processes.check() is False  # nobody crashed
            assert time.monotonic() < deadline, "node 0 never noticed the missing model"
            time.sleep(0.5)
        assert api.round(1).commits == 0
        time.sleep(3)  # 15 polls of every node: still one line each (the next comes at 10 s)
        assert log.read_text().count("global model not available yet") == 1
        ArtifactStore(fed.config.store).put(blob, owner=sponsor)
        assert ArtifactStore(fed.config.store).get(initial, owner=sponsor) == blob
        while api.round(1).commits < 3:
            assert fed.processes.check() is False
            assert time.monotonic() < deadline, "the nodes did not commit once the model arrived"
            time.sleep(0.5)
        assert TaskContext(fed.config).initial_blob == blob
