"""The deployed suite inside Brownie: a deployment file's contracts in Brownie's containers.

``fl-node deploy`` deploys with web3.py, so Brownie does not know the contracts until they are
attached: :func:`attach_deployment` puts each contract of ``deployments/<chainId>.json`` into its
project container (``Federation.at(address)``), so ``Federation[-1]`` in ``brownie console`` is
the live federation. Contracts the project does not build (an existing ERC-20 used as base token)
come in through ``Contract.from_abi``. Used by ``scripts/attach.py``, ``scripts/deploy.py`` and
the console of ``make console``. Needs Brownie (an operator's tool; nodes never import this).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fl_node.chain.deployments import Deployment, default_path, require_on_chain
from fl_node.errors import ConfigError, FlNodeError

#: The environment variable naming the deployment file the Brownie scripts read and write.
DEPLOYMENT_ENV = "FL_DEPLOYMENT"


def deployment_path(chain_id: int, path: str | Path | None = None) -> Path:
    """The deployment file: ``path``, else ``$FL_DEPLOYMENT``, else deployments/<chainId>.json."""
    chosen = path or os.environ.get(DEPLOYMENT_ENV) or default_path(chain_id)
    return Path(chosen)


def attach_deployment(path: str | Path | None = None, quiet: bool = False) -> dict[str, Any]:
    """Load the deployment of the connected chain into Brownie's containers; returns the
    contracts by name. Clear errors for a missing file, another chain, or a reset chain."""
    from brownie import Contract, project, web3
    from eth_utils import to_checksum_address

    from_abi: Any = Contract.from_abi  # the ABI and names are plain JSON here

    chain_id = int(web3.chain_id)
    file = deployment_path(chain_id, path)
    deployment = Deployment.load(file)
    if deployment.chain_id != chain_id:
        raise ConfigError(
            f"{file} is the deployment of chain {deployment.chain_id}, but Brownie is connected "
            f"to chain {chain_id}: pick the right --network or deployment file"
        )

    def code_at(address: str) -> bytes:
        return bytes(web3.eth.get_code(to_checksum_address(address)))

    require_on_chain(deployment, file, code_at)
    loaded = project.get_loaded_projects()
    active = loaded[0] if loaded else None
    attached: dict[str, Any] = {}
    stale: list[str] = []
    for name, record in deployment.contracts.items():
        container = _container(active, name)
        if container is None:
            attached[name] = from_abi(name, record.address, record.abi, persist=False)
            continue
        attached[name] = container.at(record.address, persist=False)
        if _canonical(container.abi) != _canonical(record.abi):
            stale.append(name)
    if not quiet:
        print(f"attached the suite of {file} (chain {chain_id}, block {deployment.block_number}):")
        for name, contract in attached.items():
            print(f"  {name:<15} {contract.address}")
        if stale:
            print(
                f"note: {', '.join(stale)} changed in the build since this deployment (the "
                "contracts were edited and recompiled): calls use the build's ABI"
            )
    return attached


def _canonical(abi: Any) -> list[str]:
    """An ABI's callable part as comparable text, whatever the order of its entries (Brownie
    names the constructor entry, which calls never use)."""
    return sorted(
        json.dumps(entry, sort_keys=True, default=str)
        for entry in abi
        if entry.get("type") != "constructor"
    )


def _container(active: Any, name: str) -> Any:
    if active is None:
        return None
    try:
        return active[name]
    except KeyError:
        return None


@contextmanager
def script_errors() -> Iterator[None]:
    """In ``brownie run``, a user's mistake ends the script with one ``error:`` line (exit 2);
    in the console it is raised as usual, so the console stays open."""
    from brownie._config import CONFIG

    try:
        yield
    except FlNodeError as exc:
        if CONFIG.argv["cli"] != "run":
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
