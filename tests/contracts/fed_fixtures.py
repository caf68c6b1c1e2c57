"""Fixtures of the stake vault, reward escrow and federation tests.

Import them with ``from tests.contracts.fed_fixtures import *``. Deployments are module-scoped and
every test runs in its own snapshot (Brownie's ``fn_isolation``), so tests never see each other's
transactions.

Two wirings exist. ``vault`` and ``escrow`` are bound to the ``federation`` contract, as the deploy
script binds them; ``driven_vault`` and ``driven_escrow`` are bound to the ``fed`` account instead,
for tests that drive those contracts directly.
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

from tests.contracts.fed_math import Entry, Results, commitment_hash

__all__ = [
    "AGGREGATOR_BOND",
    "ARBITER_TIMEOUT",
    "CAP",
    "CHALLENGE_BOND",
    "CHALLENGE_WINDOW",
    "CLAIM_WINDOW",
    "CLIENT_SUPPLY",
    "COMMIT_WINDOW",
    "DEAD",
    "DIVIDEND_DURATION",
    "FAR",
    "JOIN_BOND",
    "MAX",
    "POOL_FEE_BPS",
    "POST_TIMEOUT",
    "REVEAL_WINDOW",
    "STAKE",
    "THRESHOLD",
    "WAD",
    "WITHDRAW_DELAY",
    "admin",
    "aggregator",
    "arbiter",
    "base",
    "clients",
    "commit",
    "commit_all",
    "commit_reveal_all",
    "driven_escrow",
    "driven_vault",
    "escrow",
    "fed",
    "fed_isolation",
    "federation",
    "finalized_round",
    "governor",
    "make_params",
    "new_task",
    "open_round",
    "outsider",
    "post",
    "post_results",
    "registry",
    "reveal",
    "reveal_all",
    "salt_of",
    "seed_pool",
    "sponsor",
    "stakers",
    "task",
    "update_of",
    "vault",
]

WAD = 10**18
MAX = 2**256 - 1
FAR = 2**64  # a deadline that never expires
WITHDRAW_DELAY = 100
DEAD = "0x000000000000000000000000000000000000dEaD"
CLIENT_SUPPLY = 1_000_000 * WAD
POOL_FEE_BPS = 30
DIVIDEND_DURATION = 100
COMMIT_WINDOW = 100
REVEAL_WINDOW = 60
POST_TIMEOUT = 200
CHALLENGE_WINDOW = 50
ARBITER_TIMEOUT = 300
CLAIM_WINDOW = 1_000
THRESHOLD = 100 * WAD
CAP = 5 * WAD // 100
STAKE = 10 * WAD
JOIN_BOND = 5 * WAD
AGGREGATOR_BOND = 50 * WAD
CHALLENGE_BOND = 20 * WAD


@pytest.fixture(autouse=True)
def fed_isolation(fn_isolation):
    """Every test starts from the module's deployments, untouched by other tests."""


@pytest.fixture(scope="module")
def admin():
    """Deploys everything (and keeps no power over it)."""
    return accounts[0]


@pytest.fixture(scope="module")
def fed():
    """An account standing in for the Federation where a test drives a contract directly."""
    return accounts[1]


@pytest.fixture(scope="module")
def stakers():
    return accounts[2:6]


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
    """Never registered as a client; holds base tokens (a bonded auditor, or an attacker)."""
    return accounts[9]


@pytest.fixture(scope="module")
def governor():
    """Names the arbiter (a Timelock on real deployments; an account here)."""
    return accounts[10]


@pytest.fixture(scope="module")
def clients(stakers):
    """The registered clients that join the default task (all stakers)."""
    return stakers


@pytest.fixture(scope="module")
def base(admin, stakers, aggregator, outsider):
    token = TestBaseToken.deploy({"from": admin})
    for account in [admin, *stakers, aggregator, outsider]:
        token.mint(account, 1_000 * WAD, {"from": admin})
    return token


@pytest.fixture(scope="module")
def registry(base, admin, stakers):
    """The real client registry; every staker is a registered client with an empty pool."""
    token_impl = ClientToken.deploy(DIVIDEND_DURATION, {"from": admin})
    pool_impl = ClientPool.deploy({"from": admin})
    contract = ClientRegistry.deploy(
        base, token_impl, pool_impl, CLIENT_SUPPLY, POOL_FEE_BPS, {"from": admin}
    )
    for index, account in enumerate(stakers):
        contract.register(f"Client {index}", f"C{index}", {"from": account})
    return contract


@pytest.fixture(scope="module")
def vault(base, admin, stakers):
    """The suite's vault, bound to ``federation`` once that fixture runs."""
    contract = StakeVault.deploy(base, WITHDRAW_DELAY, {"from": admin})
    for account in stakers:
        base.approve(contract, MAX, {"from": account})
    return contract


@pytest.fixture(scope="module")
def escrow(base, registry, admin, sponsor):
    """The suite's escrow, bound to ``federation`` once that fixture runs."""
    contract = RewardEscrow.deploy(base, registry, {"from": admin})
    base.approve(contract, MAX, {"from": sponsor})
    return contract


@pytest.fixture(scope="module")
def driven_vault(base, admin, fed, stakers):
    """A vault bound to the ``fed`` account, which drives it directly."""
    contract = StakeVault.deploy(base, WITHDRAW_DELAY, {"from": admin})
    contract.bindFederation(fed, {"from": admin})
    for account in stakers:
        base.approve(contract, MAX, {"from": account})
    return contract


@pytest.fixture(scope="module")
def driven_escrow(base, registry, admin, fed):
    """An escrow bound to the ``fed`` account, which drives it directly; ``admin`` funds it."""
    contract = RewardEscrow.deploy(base, registry, {"from": admin})
    contract.bindFederation(fed, {"from": admin})
    base.approve(contract, MAX, {"from": admin})
    return contract


@pytest.fixture(scope="module")
def federation(
    registry, vault, escrow, base, admin, arbiter, governor, sponsor, aggregator, outsider, stakers
):
    """The suite wired as the deploy script wires it; every staker has 100 base in the vault, the
    sponsor 10,000 base approved to the escrow, and the aggregator and outsider approve the
    federation (bonds)."""
    contract = Federation.deploy(registry, vault, escrow, governor, arbiter, {"from": admin})
    vault.bindFederation(contract, {"from": admin})
    escrow.bindFederation(contract, {"from": admin})
    base.mint(sponsor, 10_000 * WAD, {"from": sponsor})
    for account in [sponsor, aggregator, outsider, *stakers]:
        base.approve(contract, MAX, {"from": account})
    for account in stakers:
        vault.deposit(100 * WAD, {"from": account})
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


PARAM_FIELDS = (
    "modelSpecHash",
    "validationSpecHash",
    "configHash",
    "initialModelHash",
    "aggregator",
    "commitWindow",
    "revealWindow",
    "postTimeout",
    "challengeWindow",
    "arbiterTimeout",
    "claimWindow",
    "minClients",
    "maxClients",
    "numRounds",
    "allowlist",
    "mode",
    "stakeMin",
    "joinBond",
    "aggregatorBond",
    "challengeBond",
    "rewardPerRound",
    "payoutThreshold",
    "payoutCap",
    "griefRatio",
    "griefCap",
)


def make_params(aggregator_account, **overrides):
    """A valid TaskParams tuple, with fields replaced by ``overrides``."""
    fields = {
        "modelSpecHash": keccak(text="mlp-64-128-10"),
        "validationSpecHash": keccak(text="digits-val"),
        "configHash": keccak(text="config"),
        "initialModelHash": keccak(text="model-0"),
        "aggregator": str(aggregator_account),
        "commitWindow": COMMIT_WINDOW,
        "revealWindow": REVEAL_WINDOW,
        "postTimeout": POST_TIMEOUT,
        "challengeWindow": CHALLENGE_WINDOW,
        "arbiterTimeout": ARBITER_TIMEOUT,
        "claimWindow": CLAIM_WINDOW,
        "minClients": 1,
        "maxClients": 4,
        "numRounds": 3,
        "allowlist": False,
        "mode": 0,
        "stakeMin": WAD,
        "joinBond": JOIN_BOND,
        "aggregatorBond": AGGREGATOR_BOND,
        "challengeBond": CHALLENGE_BOND,
        "rewardPerRound": 10 * WAD,
        "payoutThreshold": THRESHOLD,
        "payoutCap": CAP,
        "griefRatio": 0,
        "griefCap": 0,
    }
    unknown = set(overrides) - set(fields)
    assert not unknown, f"unknown TaskParams fields {unknown}"
    fields.update(overrides)
    return tuple(fields[name] for name in PARAM_FIELDS)


def new_task(federation, aggregator_account, sponsor_account, **overrides) -> int:
    """Create a task with ``make_params`` and ``overrides``; returns its id."""
    params = make_params(aggregator_account, **overrides)
    tx = federation.createTask(params, "file:///tasks/digits.yaml", {"from": sponsor_account})
    return tx.return_value


@pytest.fixture
def task(federation, escrow, aggregator, sponsor, clients):
    """A task funded with 100 base, the aggregator bonded, every client joined (its join bond
    locked), no round opened.

    Function-scoped: a module-scoped task would outlive the snapshots of the tests before it.
    """
    task_id = new_task(federation, aggregator, sponsor)
    escrow.fund(task_id, 100 * WAD, {"from": sponsor})
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    return task_id


def open_round(federation, task_id, aggregator) -> int:
    return federation.openRound(task_id, {"from": aggregator}).return_value


def update_of(task_id: int, round_: int, client) -> bytes:
    """The (made-up) update hash ``client`` submits in a round."""
    return keccak(text=f"update-{task_id}-{round_}-{str(client).lower()}")


def salt_of(task_id: int, round_: int, client) -> bytes:
    """The secret salt ``client`` seals its commitment with."""
    return keccak(text=f"salt-{task_id}-{round_}-{str(client).lower()}")


def commit(federation, task_id, round_, account, stake=STAKE, update=None, salt=None):
    """``account`` commits ``update`` (default: ``update_of``) sealed with ``salt``."""
    update = update if update is not None else update_of(task_id, round_, account)
    salt = salt if salt is not None else salt_of(task_id, round_, account)
    sealed = commitment_hash(task_id, round_, str(account), update, salt)
    return federation.commit(task_id, round_, sealed, stake, {"from": account})


def reveal(federation, task_id, round_, account, update=None, salt=None):
    """``account`` opens the commitment ``commit`` made (same defaults)."""
    update = update if update is not None else update_of(task_id, round_, account)
    salt = salt if salt is not None else salt_of(task_id, round_, account)
    return federation.reveal(task_id, round_, update, salt, {"from": account})


def commit_all(federation, task_id, round_, clients, stake=STAKE):
    for account in clients:
        commit(federation, task_id, round_, account, stake)


def reveal_all(federation, task_id, round_, clients):
    for account in clients:
        reveal(federation, task_id, round_, account)


def commit_reveal_all(federation, task_id, round_, clients, stake=STAKE):
    """Every client commits, then reveals (reveals open at once when every participant is in;
    otherwise the caller must move past the commit window first)."""
    commit_all(federation, task_id, round_, clients, stake)
    reveal_all(federation, task_id, round_, clients)


def post(
    federation,
    task_id,
    round_,
    aggregator,
    model,
    root,
    total_reward,
    total_payout,
    commits=None,
    reveals=None,
):
    """``postRound`` with the round's current commit and reveal counts unless given."""
    state = federation.roundState(task_id, round_)
    commits = state["commits"] if commits is None else commits
    reveals = state["reveals"] if reveals is None else reveals
    return federation.postRound(
        task_id,
        round_,
        (model, root, commits, reveals, total_reward, total_payout),
        {"from": aggregator},
    )


def post_results(federation, task_id, round_, aggregator, entries, threshold=THRESHOLD, cap=CAP):
    """Post ``entries`` (client, score, reward, stake) as the round's results; returns them."""
    results = Results(task_id, round_, [Entry(*e) for e in entries], threshold, cap)
    model = keccak(text=f"model-{task_id}-{round_}")
    post(
        federation,
        task_id,
        round_,
        aggregator,
        model,
        results.root,
        results.total_reward,
        results.total_payout,
    )
    return results


def finalized_round(federation, task_id, aggregator, clients, scores, rewards, stake=STAKE):
    """Open, commit and reveal (every client, ``stake`` each), post and finalize a round; returns
    the results."""
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients, stake)
    entries = [(c, s, r, stake) for c, s, r in zip(clients, scores, rewards, strict=True)]
    results = post_results(federation, task_id, round_, aggregator, entries)
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task_id, round_, {"from": clients[0]})
    return results
