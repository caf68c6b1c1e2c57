"""Where the contracts live on a chain: the file the deploy script writes and every node reads.

``deployments/<chainId>.json`` holds each contract's address and ABI, so a participant machine
needs this file and web3, not Brownie or the Solidity sources.
"""

from __future__ import annotations

import json
import os
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
