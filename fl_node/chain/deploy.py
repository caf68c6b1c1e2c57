"""Deploy the contract suite with web3.py from Brownie's build artifacts.

This is the only deployment sequence of the project: ``fl-node deploy``, the demo, the tests and
Brownie's ``scripts/deploy.py`` all call :func:`deploy_suite`. It writes
``deployments/<chainId>.json`` (addresses + ABIs + who holds which role), which is all a
participant machine needs.

Who holds power afterwards: the vault and the escrow are bound to the Federation for good and have
no admin; the Federation's only administrative power (naming the arbiter) belongs to a
``Timelock`` (OpenZeppelin's TimelockController, with no admin) whose proposers are the
``governor`` accounts; the arbiter is its own account. The deployer keeps nothing, except, on
local chains, the dev token's minter role when it is also the faucet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from hexbytes import HexBytes

from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import Erc20
from fl_node.chain.deployments import SUITE, ContractRecord, Deployment
from fl_node.chain.keys import account_from_key
from fl_node.errors import ChainError, ConfigError
from fl_node.toolchain.localchain import DEV_CHAIN_ID, dev_private_key

WAD = 10**18
YEAR = 365 * 86_400
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
#: Dev-mnemonic accounts that hold the arbiter and governor roles on local chains (far past the
#: accounts Anvil funds and the simulations use, so no client or investor ever holds a role).
ARBITER_DEV_INDEX = 1000
GOVERNOR_DEV_INDEX = 1001
#: Gas money the deployer sends the local role accounts (Anvil funds only its first accounts).
LOCAL_ROLE_ETH = 10 * 10**18


def local_arbiter() -> LocalAccount:
    """The arbiter's key on local dev chains (``--dev-account 1000``)."""
    return account_from_key(dev_private_key(ARBITER_DEV_INDEX))


def local_governor() -> LocalAccount:
    """The governor's key on local dev chains (``--dev-account 1001``)."""
    return account_from_key(dev_private_key(GOVERNOR_DEV_INDEX))


@dataclass(frozen=True)
class SuiteConfig:
    """Deployment parameters (defaults suit local chains; public networks name their roles)."""

    base_token: str | None = None  # an existing ERC-20 on public networks; None: deploy DevToken
    base_name: str = "Dev USD"
    base_symbol: str = "dUSD"
    base_decimals: int = 18  # of the DevToken (6 to try a USDC-like base token)
    client_token_supply: int = 1_000_000 * WAD  # minted to each client at registration
    pool_fee_bps: int = 30  # 0.30 %, as Uniswap v2
    withdraw_delay: int = 60  # seconds of stake-withdrawal countdown
    dividend_duration: int = 3_600  # seconds over which each dividend distribution streams
    arbiter: str | None = None  # decides challenges; local default: dev account 1000
    governors: tuple[str, ...] = field(default=())  # Timelock proposers; local: dev account 1001
    timelock_delay: int | None = None  # seconds; default 2 days, 60 s on local chains
    faucet: str | None = None  # the DevToken's minter; default: the deployer
    # TokenLending (base tokens lent against client tokens; markets listed by the timelock)
    lending_twap_window: int = 1_800  # seconds the collateral's average price spans
    lending_close_factor_bps: int = 5_000  # most of a debt one liquidation repays
    lending_bonus_bps: int = 800  # collateral a liquidator gets on top of what it repays
    # per-second borrow rate (WAD): base, slope up to the kink, slope beyond, kink utilization
    lending_rates: tuple[int, int, int, int] = (
        2 * WAD // 100 // YEAR,  # 2 % a year at no utilization
        18 * WAD // 100 // YEAR,  # +18 % a year up to the kink
        300 * WAD // 100 // YEAR,  # +300 % a year beyond it
        80 * WAD // 100,  # the kink: 80 % utilization
    )

    def validate(self) -> None:
        if self.client_token_supply <= 0:
            raise ConfigError("client_token_supply must be positive")
        if not 0 <= self.pool_fee_bps <= 1000:
            raise ConfigError("pool_fee_bps must be between 0 and 1000 (10 %)")
        if self.withdraw_delay < 0:
            raise ConfigError("withdraw_delay must be >= 0 seconds")
        if self.dividend_duration < 1:
            raise ConfigError("dividend_duration must be >= 1 second")
        if not 0 <= self.base_decimals <= 36:
            raise ConfigError("base_decimals must be between 0 and 36")
        if self.timelock_delay is not None and self.timelock_delay < 0:
            raise ConfigError("timelock_delay must be >= 0 seconds")
        if not 300 <= self.lending_twap_window <= 86_400:
            raise ConfigError("lending_twap_window must be between 300 s and 1 day")
        if not 1_000 <= self.lending_close_factor_bps <= 10_000:
            raise ConfigError("lending_close_factor_bps must be between 1000 and 10000")
        if not 0 <= self.lending_bonus_bps <= 2_000:
            raise ConfigError("lending_bonus_bps must be between 0 and 2000")
        for name, value in [
            ("base token", self.base_token),
            ("arbiter", self.arbiter),
            ("faucet", self.faucet),
            *(("governor", g) for g in self.governors),
        ]:
            if value is not None and not is_address(value):
                raise ConfigError(f"the {name} {value!r} is not an address")


def load_artifact(build_dir: Path, name: str) -> dict[str, Any]:
    path = build_dir / "contracts" / f"{name}.json"
    if not path.is_file():
        raise ConfigError(
            f"no build artifact for {name} at {path}: compile the contracts first (`make compile`)"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    return data


#: Decimals a base token may have (real tokens use 0 to 18; beyond 36 amounts overflow the math).
MAX_BASE_DECIMALS = 36


def check_base_token(client: ChainClient, address: str, abi: list[dict[str, Any]]) -> int:
    """An existing ERC-20 to use as base token: code at the address, the ERC-20 views
    (``decimals``, ``totalSupply``, ``balanceOf``) answer, and its decimals are sane (0..36).
    Returns its decimals."""
    from web3.exceptions import Web3Exception

    if not is_address(address):
        raise ConfigError(f"the base token {address!r} is not an address")
    checksum = to_checksum_address(address)
    code = client.retry.run("get code", lambda: client.w3.eth.get_code(checksum))
    if not code:
        raise ConfigError(
            f"the base token {checksum} has no contract code on chain {client.chain_id}: it must "
            "be an ERC-20 token contract (an account address was given?)"
        )
    token = Erc20(
        client, name="BaseToken", contract=client.w3.eth.contract(address=checksum, abi=abi)
    )
    try:
        decimals = token.read_decimals().get()
        token.total_supply()
        token.balance_of(checksum)
    except (ChainError, Web3Exception, ValueError, OverflowError) as exc:
        # ChainError: a revert; Web3Exception: no such function (empty return data);
        # ValueError/OverflowError: return data that does not decode as the ERC-20 views'.
        raise ConfigError(
            f"the base token {checksum} does not answer the ERC-20 views (decimals, totalSupply, "
            f"balanceOf): is it an ERC-20 token? ({type(exc).__name__}: {exc})"
        ) from None
    if not 0 <= decimals <= MAX_BASE_DECIMALS:
        raise ConfigError(
            f"the base token {checksum} reports {decimals} decimals: expected 0 to "
            f"{MAX_BASE_DECIMALS} (6 for USDC-like tokens, 18 for most)"
        )
    return decimals


def deploy_suite(
    client: ChainClient,
    deployer: LocalAccount,
    build_dir: Path,
    config: SuiteConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> Deployment:
    """Deploy every contract of the suite, bind and hand over the roles, and return the record."""
    cfg = config or SuiteConfig()
    cfg.validate()
    say = progress or (lambda _msg: None)
    artifacts = {name: load_artifact(build_dir, name) for name in SUITE}
    if cfg.base_token is not None:  # checked before any transaction: a refusal costs no gas
        decimals = check_base_token(client, cfg.base_token, artifacts["DevToken"]["abi"])
        say(f"base token {to_checksum_address(cfg.base_token)}: an ERC-20 with {decimals} decimals")
    local = client.chain_id == DEV_CHAIN_ID
    arbiter = cfg.arbiter or (local_arbiter().address if local else None)
    governors = cfg.governors or ((local_governor().address,) if local else ())
    if arbiter is None or not governors:
        raise ConfigError(
            "on a public network name the arbiter (--arbiter) and the governor(s) (--governor) "
            "that propose changes through the timelock: the deployer keeps no power"
        )
    delay = cfg.timelock_delay if cfg.timelock_delay is not None else (60 if local else 2 * 86_400)
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

    governor_list = [to_checksum_address(g) for g in governors]
    timelock = deploy("Timelock", delay, governor_list, [ZERO_ADDRESS])
    faucet = to_checksum_address(cfg.faucet or me)
    if cfg.base_token is None:
        base = deploy(
            "DevToken", cfg.base_name, cfg.base_symbol, cfg.base_decimals, timelock, faucet
        )
        deployment.base_token = "DevToken"
    else:
        base = to_checksum_address(cfg.base_token)
        # Record the base token under its own name with the ERC-20 ABI of DevToken (a superset).
        deployment.contracts["BaseToken"] = ContractRecord(base, artifacts["DevToken"]["abi"])
        deployment.base_token = "BaseToken"
    token_impl = deploy("ClientToken", cfg.dividend_duration)
    pool_impl = deploy("ClientPool")
    registry = deploy(
        "ClientRegistry", base, token_impl, pool_impl, cfg.client_token_supply, cfg.pool_fee_bps
    )
    vault = deploy("StakeVault", base, cfg.withdraw_delay)
    escrow = deploy("RewardEscrow", base, registry)
    federation = deploy(
        "Federation", registry, vault, escrow, timelock, to_checksum_address(arbiter)
    )
    client.send(client.contract("StakeVault").functions.bindFederation(federation), deployer)
    client.send(client.contract("RewardEscrow").functions.bindFederation(federation), deployer)
    # Lending against client tokens: owned by the timelock, which lists each market (pool, LTV,
    # liquidation threshold, borrow cap) in public first; no market is open at deployment.
    deploy(
        "TokenLending",
        base,
        timelock,
        cfg.lending_twap_window,
        cfg.lending_close_factor_bps,
        cfg.lending_bonus_bps,
        list(cfg.lending_rates),
    )
    deployment.roles = {"governor": timelock, "arbiter": to_checksum_address(arbiter)}
    if cfg.base_token is None:
        deployment.roles["faucet"] = faucet
    if local:
        _fund_local_roles(client, deployer, [arbiter, *governor_list])
    say(
        f"vault and escrow bound to the federation; arbiter {arbiter}; governor: timelock "
        f"{timelock} ({delay} s delay, proposers {', '.join(governor_list)})"
    )
    return deployment


def _fund_local_roles(client: ChainClient, deployer: LocalAccount, accounts: list[str]) -> None:
    """Send gas money to local role accounts that Anvil did not fund."""
    for account in accounts:
        if client.balance_eth(to_checksum_address(account)) < LOCAL_ROLE_ETH // 2:
            client.transfer_eth(deployer, account, LOCAL_ROLE_ETH)
