"""Fixtures of the stake vault, reward escrow and federation tests.

Import them with ``from tests.contracts.fed_fixtures import *``. Deployments are module-scoped and
every test runs in its own snapshot (Brownie's ``fn_isolation``), so tests never see each other's
transactions.
"""

from __future__ import annotations

import pytest
from brownie import (
    ClientPool,
    ClientRegistry,
    ClientToken,
    Federation,
    RewardEscrow,
    StakeVault,
    TestBaseToken,
    accounts,
    chain,
)
from eth_utils import keccak

from tests.contracts.fed_math import Entry, Results

__all__ = [
    "ARBITER_ROLE",
    "CAP",
    "CHALLENGE_WINDOW",
    "CLIENT_SUPPLY",
    "COMMIT_WINDOW",
    "DEAD",
    "FEDERATION_ROLE",
    "POOL_FEE_BPS",
    "POST_TIMEOUT",
    "STAKE",
    "THRESHOLD",
    "WAD",
    "WITHDRAW_DELAY",
    "admin",
    "aggregator",
    "arbiter",
    "base",
    "clients",
    "commit_all",
    "escrow",
    "fed",
    "fed_isolation",
    "federation",
    "finalized_round",
    "make_params",
    "new_task",
    "open_round",
    "outsider",
    "post_results",
    "registry",
    "seed_pool",
    "sponsor",
    "stakers",
    "task",
    "vault",
]

WAD = 10**18
WITHDRAW_DELAY = 100
FEDERATION_ROLE = keccak(text="FEDERATION_ROLE")
DEAD = "0x000000000000000000000000000000000000dEaD"
CLIENT_SUPPLY = 1_000_000 * WAD
POOL_FEE_BPS = 30
ARBITER_ROLE = keccak(text="ARBITER_ROLE")
COMMIT_WINDOW = 100
CHALLENGE_WINDOW = 50
POST_TIMEOUT = 200
THRESHOLD = 100 * WAD
CAP = 5 * WAD // 100
STAKE = 10 * WAD


@pytest.fixture(autouse=True)
def fed_isolation(fn_isolation):
    """Every test starts from the module's deployments, untouched by other tests."""


@pytest.fixture(scope="module")
def admin():
    return accounts[0]


@pytest.fixture(scope="module")
def fed():
    """An account standing in for the Federation where a test drives a contract directly."""
    return accounts[1]


@pytest.fixture(scope="module")
def stakers():
    return accounts[2:6]


@pytest.fixture(scope="module")
def base(admin, stakers):
    token = TestBaseToken.deploy({"from": admin})
    for account in [admin, *stakers]:
        token.mint(account, 1_000 * WAD, {"from": admin})
    return token


@pytest.fixture(scope="module")
def vault(base, admin, fed, stakers):
    contract = StakeVault.deploy(base, WITHDRAW_DELAY, admin, {"from": admin})
    contract.grantRole(FEDERATION_ROLE, fed, {"from": admin})
    for account in stakers:
        base.approve(contract, 2**256 - 1, {"from": account})
    return contract


@pytest.fixture(scope="module")
def registry(base, admin, stakers):
    """The real client registry; every staker is a registered client with an empty pool."""
    token_impl = ClientToken.deploy({"from": admin})
    pool_impl = ClientPool.deploy({"from": admin})
    contract = ClientRegistry.deploy(
        base, token_impl, pool_impl, CLIENT_SUPPLY, POOL_FEE_BPS, {"from": admin}
    )
    for index, account in enumerate(stakers):
        contract.register(f"Client {index}", f"C{index}", {"from": account})
    return contract


@pytest.fixture(scope="module")
def escrow(base, registry, admin, fed):
    contract = RewardEscrow.deploy(base, registry, admin, {"from": admin})
    contract.grantRole(FEDERATION_ROLE, fed, {"from": admin})
    base.approve(contract, 2**256 - 1, {"from": admin})
    return contract


def seed_pool(registry, base, client, tokens: int, base_amount: int):
    """Open ``client``'s market: it adds ``tokens`` of its token and ``base_amount`` base."""
    pool = ClientPool.at(registry.poolOf(client))
    token = ClientToken.at(registry.tokenOf(client))
    token.approve(pool, tokens, {"from": client})
    base.approve(pool, base_amount, {"from": client})
    deadline = chain.time() + 3600
    pool.addLiquidity(tokens, base_amount, 0, 0, client, deadline, {"from": client})
    return pool, token


@pytest.fixture(scope="module")
def aggregator():
    return accounts[6]


@pytest.fixture(scope="module")
def arbiter():
    return accounts[7]


@pytest.fixture(scope="module")
def sponsor():
    return accounts[8]


@pytest.fixture(scope="module")
def outsider():
    """Never registered as a client."""
    return accounts[9]


@pytest.fixture(scope="module")
def clients(stakers):
    """The registered clients that join the default task (all stakers)."""
    return stakers


@pytest.fixture(scope="module")
def federation(registry, vault, escrow, base, admin, arbiter, sponsor, stakers):
    """The suite wired as the deploy script wires it; every staker has 100 base in the vault."""
    contract = Federation.deploy(registry, vault, escrow, admin, {"from": admin})
    vault.grantRole(FEDERATION_ROLE, contract, {"from": admin})
    escrow.grantRole(FEDERATION_ROLE, contract, {"from": admin})
    contract.grantRole(ARBITER_ROLE, arbiter, {"from": admin})
    base.mint(sponsor, 10_000 * WAD, {"from": sponsor})
    base.approve(escrow, 2**256 - 1, {"from": sponsor})
    for account in stakers:
        vault.deposit(100 * WAD, {"from": account})
    return contract


def make_params(aggregator_account, **overrides):
    """A valid TaskParams tuple, with fields replaced by ``overrides``."""
    fields = {
        "modelSpecHash": keccak(text="mlp-64-128-10"),
        "validationSpecHash": keccak(text="digits-val"),
        "initialModelHash": keccak(text="model-0"),
        "aggregator": str(aggregator_account),
        "commitWindow": COMMIT_WINDOW,
        "challengeWindow": CHALLENGE_WINDOW,
        "postTimeout": POST_TIMEOUT,
        "maxClients": 4,
        "numRounds": 3,
        "stakeMin": WAD,
        "rewardPerRound": 10 * WAD,
        "payoutThreshold": THRESHOLD,
        "payoutCap": CAP,
        "mode": 0,
        "metadataURI": "file:///tasks/digits.yaml",
    }
    unknown = set(overrides) - set(fields)
    assert not unknown, f"unknown TaskParams fields {unknown}"
    fields.update(overrides)
    return tuple(fields.values())


def new_task(federation, aggregator_account, sponsor_account, **overrides) -> int:
    """Create a task with ``make_params`` and ``overrides``; returns its id."""
    params = make_params(aggregator_account, **overrides)
    return federation.createTask(params, {"from": sponsor_account}).return_value


@pytest.fixture
def task(federation, escrow, aggregator, sponsor, clients):
    """A task funded with 100 base, every client joined, no round opened.

    Function-scoped: a module-scoped task would outlive the snapshots of the tests before it.
    """
    tx = federation.createTask(make_params(aggregator), {"from": sponsor})
    task_id = tx.return_value
    escrow.fund(task_id, 100 * WAD, {"from": sponsor})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    return task_id


def open_round(federation, task_id, aggregator) -> int:
    return federation.openRound(task_id, {"from": aggregator}).return_value


def commit_all(federation, task_id, round_, clients, stake=STAKE):
    for index, account in enumerate(clients):
        update = keccak(text=f"update-{task_id}-{round_}-{index}")
        federation.commit(task_id, round_, update, stake, {"from": account})


def post_results(federation, task_id, round_, aggregator, entries, threshold=THRESHOLD, cap=CAP):
    """Post ``entries`` (client, score, reward, stake) as the round's results; returns them."""
    results = Results(task_id, round_, [Entry(*e) for e in entries], threshold, cap)
    model = keccak(text=f"model-{task_id}-{round_}")
    federation.postRound(
        task_id,
        round_,
        model,
        results.root,
        results.total_reward,
        results.total_payout,
        {"from": aggregator},
    )
    return results


def finalized_round(federation, task_id, aggregator, clients, scores, rewards, stake=STAKE):
    """Open, commit (every client, ``stake`` each), post and finalize a round; returns results."""
    round_ = open_round(federation, task_id, aggregator)
    commit_all(federation, task_id, round_, clients, stake)
    entries = [(c, s, r, stake) for c, s, r in zip(clients, scores, rewards, strict=True)]
    results = post_results(federation, task_id, round_, aggregator, entries)
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task_id, round_, {"from": clients[0]})
    return results
