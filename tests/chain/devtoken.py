"""A DevToken deployed on a test chain: the one contract the chain client's tests call."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes

from fl_node.chain.client import ChainClient
from fl_node.chain.deploy import load_artifact
from fl_node.chain.deployments import ContractRecord, Deployment
from fl_node.toolchain.localchain import project_root


def deploy_dev_token(rpc_url: str, owner: Any) -> Deployment:
    """Deploy a DevToken minted and owned by ``owner``; the deployment holding only it."""
    art = load_artifact(project_root() / "build", "DevToken")
    client = ChainClient(rpc_url)
    factory = client.w3.eth.contract(abi=art["abi"], bytecode=HexBytes(art["bytecode"]))
    result = client.send(
        factory.constructor("Dev", "DEV", 18, owner.address, owner.address), owner, label="deploy"
    )
    record = ContractRecord(result.receipt["contractAddress"], art["abi"])
    return Deployment(chain_id=client.chain_id, contracts={"DevToken": record})
