"""Where the contracts live on a chain: the file the deploy script writes and every node reads.

``deployments/<chainId>.json`` holds each contract's address and ABI, so a participant machine
needs this file and web3, not Brownie or the Solidity sources.

A deployment file is never replaced silently: a new deploy to a chain that already has one is
refused unless forced, and a forced one first copies the old file to
``deployments/history/<chainId>-block<N>-<UTC time>.json``. A file whose contracts are no longer on
the chain (a local chain restarted without its state) is reported as such, not as a failed call.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fl_node.errors import ConfigError

#: The contracts of the suite, in deployment order.
SUITE = (
    "Timelock",
    "DevToken",
    "ClientToken",
    "ClientPool",
    "ClientRegistry",
    "StakeVault",
    "RewardEscrow",
    "Federation",
    "TokenLending",
)


@dataclass(frozen=True)
class ContractRecord:
    address: str
    abi: list[dict[str, Any]]


@dataclass
class Deployment:
    """Addresses and ABIs of one deployment of the suite on one chain."""

    chain_id: int
    contracts: dict[str, ContractRecord] = field(default_factory=dict)
    block_number: int = 0
    base_token: str = "DevToken"
    #: Who holds which power: ``governor`` (the Timelock), ``arbiter``, ``faucet`` (the dev token's
    #: minter, local chains only). The deployer holds none.
    roles: dict[str, str] = field(default_factory=dict)

    def address(self, name: str) -> str:
        return self.record(name).address

    def abi(self, name: str) -> list[dict[str, Any]]:
        return self.record(name).abi

    def record(self, name: str) -> ContractRecord:
        try:
            return self.contracts[name]
        except KeyError:
            known = ", ".join(sorted(self.contracts)) or "none"
            raise ConfigError(
                f"contract {name!r} is not in the deployment of chain {self.chain_id} "
                f"(it has: {known}); redeploy with `fl-node deploy`"
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "blockNumber": self.block_number,
            "baseToken": self.base_token,
            "roles": dict(self.roles),
            "contracts": {
                name: {"address": rec.address, "abi": rec.abi}
                for name, rec in self.contracts.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "deployment") -> Deployment:
        try:
            contracts = {
                name: ContractRecord(address=str(entry["address"]), abi=list(entry["abi"]))
                for name, entry in data["contracts"].items()
            }
            return cls(
                chain_id=int(data["chainId"]),
                contracts=contracts,
                block_number=int(data.get("blockNumber", 0)),
                base_token=str(data.get("baseToken", "DevToken")),
                roles={str(k): str(v) for k, v in data.get("roles", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source} is not a valid deployment file ({exc!r})") from exc

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path) -> Deployment:
        if not path.is_file():
            raise ConfigError(
                f"no deployment file at {path}: deploy the contracts first (`fl-node deploy`) "
                "or pass --deployment with the file the operator gave you"
            )
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not JSON: {exc}") from exc
        return cls.from_json(data, source=str(path))


def default_path(chain_id: int, folder: Path | None = None) -> Path:
    return (folder or Path("deployments")) / f"{chain_id}.json"


#: Where replaced deployment files are kept, beside the file they were replaced in.
HISTORY_DIR = "history"


def _describe(path: Path) -> str:
    """What an existing deployment file holds, in a few words (or that it is unreadable)."""
    try:
        old = Deployment.load(path)
    except ConfigError:
        return "an unreadable deployment"
    where = f"Federation at {old.address('Federation')}, " if "Federation" in old.contracts else ""
    return f"the deployment of chain {old.chain_id} ({where}deployed at block {old.block_number})"


def check_replaceable(path: Path, force: bool, how_to_force: str = "pass --force") -> None:
    """Refuse to replace an existing deployment file unless ``force`` (checked before deploying,
    so a refused deploy costs no gas)."""
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already holds {_describe(path)}: {how_to_force} to deploy a new suite and "
            f"replace it (the old file is kept in {path.parent / HISTORY_DIR}/)"
        )


def history_path(path: Path, now: float | None = None) -> Path:
    """A new path under ``history/`` for the deployment file at ``path``."""
    try:
        block = f"-block{Deployment.load(path).block_number}"
    except ConfigError:
        block = ""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    folder = path.parent / HISTORY_DIR
    candidate = folder / f"{path.stem}{block}-{stamp}.json"
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{path.stem}{block}-{stamp}-{n}.json"
    return candidate


def publish(deployment: Deployment, path: Path) -> Path | None:
    """Write ``deployment`` to ``path``, first copying a file already there to ``history/``.
    Returns where the old file went (None when there was none)."""
    kept = None
    if path.exists():
        kept = history_path(path)
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, kept)
    deployment.save(path)
    return kept


def require_on_chain(
    deployment: Deployment, source: Path | str, code_at: Callable[[str], bytes]
) -> None:
    """Raise a clear error when the deployment's contracts have no code on the connected chain
    (``code_at(address)`` returns the code there): a local chain restarted without its state."""
    if not deployment.contracts:
        raise ConfigError(f"the deployment in {source} lists no contracts")
    name = (
        "Federation" if "Federation" in deployment.contracts else next(iter(deployment.contracts))
    )
    address = deployment.address(name)
    if not code_at(address):
        raise ConfigError(
            f"the deployment in {source} is not on this chain (no code at {address}): the chain "
            "was reset; deploy again (`fl-node deploy --force` keeps the old file in "
            f"{Path(source).parent / HISTORY_DIR}/)"
        )
