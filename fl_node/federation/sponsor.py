"""The sponsor's actions: create a training task on-chain and escrow its reward budget."""

from __future__ import annotations

import json
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.errors import ChainError
from fl_node.federation.context import TaskContext
from fl_node.federation.protocol import hex32


def task_params(ctx: TaskContext, aggregator: str, initial_hash: bytes) -> tuple[Any, ...]:
    """The ``TaskParams`` struct of ``Federation.createTask`` for this config."""
    cfg, fed = ctx.config, ctx.config.federation
    metadata = json.dumps(
        {"name": cfg.name, "store": cfg.store, "config": hex32(ctx.config_hash)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return (
        ctx.model_spec_hash,
        ctx.validation_spec_hash,
        initial_hash,
        to_checksum_address(aggregator),
        fed.commit_window,
        fed.challenge_window,
        fed.post_timeout,
        fed.max_clients,
        fed.rounds,
        cfg.wei(fed.stake_min),
        cfg.wei(fed.reward_per_round),
        cfg.wei(fed.payout_threshold),
        cfg.wei(fed.payout_cap),  # WAD fixed point of the decimal value
        cfg.mode_id,
        metadata,
    )


def create_task(
    client: ChainClient,
    sponsor: LocalAccount,
    ctx: TaskContext,
    store: ArtifactStore,
    aggregator: str,
    fund: bool = True,
) -> int:
    """Upload the initial model, create the task, escrow the budget; returns the task id."""
    budget = ctx.config.wei(ctx.config.federation.budget)
    if fund:
        _check_funds(client, sponsor, budget)  # before anything is created on-chain
    initial_hash = store.put(ctx.initial_blob)
    federation = client.contract("Federation")
    params = task_params(ctx, aggregator, bytes.fromhex(initial_hash[2:]))
    result = client.send(federation.functions.createTask(params), sponsor)
    events = federation.events.TaskCreated().process_receipt(result.receipt)
    if not events:
        raise ChainError("createTask succeeded but emitted no TaskCreated event")
    task_id = int(events[0]["args"]["taskId"])
    if fund:
        fund_task(client, sponsor, task_id, budget)
    return task_id


def _check_funds(client: ChainClient, sponsor: LocalAccount, amount: int) -> None:
    assert client.deployment is not None
    base = client.contract(client.deployment.base_token)
    balance = int(client.call(base.functions.balanceOf(sponsor.address)))
    if balance < amount:
        raise ChainError(
            f"the sponsor {sponsor.address} holds {balance / 1e18:.2f} base tokens, "
            f"{amount / 1e18:.2f} are needed to fund the task's budget"
        )


def fund_task(client: ChainClient, sponsor: LocalAccount, task_id: int, amount: int) -> None:
    """Escrow ``amount`` base tokens for ``task_id`` (anyone may top a task up)."""
    assert client.deployment is not None
    _check_funds(client, sponsor, amount)
    base = client.contract(client.deployment.base_token)
    escrow = client.contract("RewardEscrow")
    client.send(base.functions.approve(escrow.address, amount), sponsor)
    client.send(escrow.functions.fund(task_id, amount), sponsor)
