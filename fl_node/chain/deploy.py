"""Deploy the contract suite with web3.py from Brownie's build artifacts.

This is the only deployment sequence of the project: ``fl-node deploy``, the demo, the tests and
Brownie's ``scripts/deploy.py`` all call :func:`deploy_suite`. It writes
``deployments/<chainId>.json`` (addresses + ABIs), which is all a participant machine needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from fl_node.chain.client import ChainClient
from fl_node.chain.deployments import SUITE, ContractRecord, Deployment
from fl_node.errors import ConfigError

WAD = 10**18


@dataclass(frozen=True)
class SuiteConfig:
    """Deployment parameters (defaults suit local chains and test networks)."""

    base_token: str | None = None  # an existing ERC-20 on public networks; None: deploy DevToken
    base_name: str = "Dev USD"
    base_symbol: str = "dUSD"
    client_token_supply: int = 1_000_000 * WAD  # minted to each client at registration
    pool_fee_bps: int = 30  # 0.30 %, as Uniswap v2
    withdraw_delay: int = 60  # seconds of stake-withdrawal countdown
    arbiter: str | None = None  # receives ARBITER_ROLE; default: the deployer

    def validate(self) -> None:
        if self.client_token_supply <= 0:
            raise ConfigError("client_token_supply must be positive")
        if not 0 <= self.pool_fee_bps <= 1000:
            raise ConfigError("pool_fee_bps must be between 0 and 1000 (10 %)")
        if self.withdraw_delay < 0:
            raise ConfigError("withdraw_delay must be >= 0 seconds")


def load_artifact(build_dir: Path, name: str) -> dict[str, Any]:
    path = build_dir / "contracts" / f"{name}.json"
    if not path.is_file():
        raise ConfigError(
            f"no build artifact for {name} at {path}: compile the contracts first (`make compile`)"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _role(name: str) -> bytes:
    return keccak(text=name)


def deploy_suite(
    client: ChainClient,
    deployer: LocalAccount,
    build_dir: Path,
    config: SuiteConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> Deployment:
    """Deploy every contract of the suite, wire the roles, and return the deployment record."""
    cfg = config or SuiteConfig()
    cfg.validate()
    say = progress or (lambda _msg: None)
    artifacts = {name: load_artifact(build_dir, name) for name in SUITE}
    deployment = Deployment(chain_id=client.chain_id, block_number=client.block_number())
    client.deployment = deployment
    me = deployer.address

    def deploy(name: str, *args: Any) -> str:
        art = artifacts[name]
        factory = client.w3.eth.contract(abi=art["abi"], bytecode=HexBytes(art["bytecode"]))
        result = client.send(factory.constructor(*args), deployer, label=f"{name}.deploy")
        address = to_checksum_address(result.receipt["contractAddress"])
        deployment.contracts[name] = ContractRecord(address=address, abi=art["abi"])
        say(f"{name} at {address}")
        return address

    if cfg.base_token is None:
        base = deploy("DevToken", cfg.base_name, cfg.base_symbol, me)
        deployment.base_token = "DevToken"
    else:
        base = to_checksum_address(cfg.base_token)
        # Record the base token under its own name with the ERC-20 ABI of DevToken (a superset).
        deployment.contracts["BaseToken"] = ContractRecord(base, artifacts["DevToken"]["abi"])
        deployment.base_token = "BaseToken"
    token_impl = deploy("ClientToken")
    pool_impl = deploy("ClientPool")
    registry = deploy(
        "ClientRegistry", base, token_impl, pool_impl, cfg.client_token_supply, cfg.pool_fee_bps
    )
    vault = deploy("StakeVault", base, cfg.withdraw_delay, me)
    escrow = deploy("RewardEscrow", base, registry, me)
    federation = deploy("Federation", registry, vault, escrow, me)

    fed_role = _role("FEDERATION_ROLE")
    client.send(client.contract("StakeVault").functions.grantRole(fed_role, federation), deployer)
    client.send(client.contract("RewardEscrow").functions.grantRole(fed_role, federation), deployer)
    arbiter = to_checksum_address(cfg.arbiter or me)
    client.send(
        client.contract("Federation").functions.grantRole(_role("ARBITER_ROLE"), arbiter), deployer
    )
    say(f"roles wired (arbiter {arbiter})")
    return deployment
