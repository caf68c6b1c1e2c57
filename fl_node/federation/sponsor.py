"""The sponsor's actions: create a training task on-chain and escrow its reward budget."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from fl_node.app.layout import ModelLayout
from fl_node.artifacts.codec import encode_weights
from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import BaseToken
from fl_node.config import TaskConfig
from fl_node.errors import ChainError
from fl_node.federation.context import TaskContext
from fl_node.federation.protocol import FederationApi, TaskParams, hex32


@dataclass(frozen=True)
class TaskSpec:
    """What a task pins on-chain besides its money terms: its config, its initial model (whose
    layout is the model spec) and the aggregator's validation data."""

    config: TaskConfig
    initial_blob: bytes
    model_spec_hash: bytes
    validation_spec_hash: bytes

    @property
    def config_hash(self) -> bytes:
        return self.config.config_hash

    @classmethod
    def bundled(cls, ctx: TaskContext) -> TaskSpec:
        """A task of the bundled example app: model and validation data from the config."""
        return cls(ctx.config, ctx.initial_blob, ctx.model_spec_hash, ctx.validation_spec_hash)

    @classmethod
    def of_app(
        cls, config: TaskConfig, parameters: list[Any], validation_spec_hash: bytes
    ) -> TaskSpec:
        """A task of a participant-written app: its initial parameters (``get_parameters``)."""
        layout = ModelLayout.of(parameters, "the app's initial parameters")
        blob = encode_weights(layout.to_named(parameters), {"kind": "global", "round": 0})
        return cls(config, blob, layout.spec_hash(), validation_spec_hash)


def task_params(spec: TaskSpec, aggregator: str, initial_hash: bytes, decimals: int) -> TaskParams:
    """The ``TaskParams`` of ``Federation.createTask``; base-token amounts in the smallest unit of
    a token with ``decimals`` decimals."""
    cfg, fed = spec.config, spec.config.federation

    def units(amount: float) -> int:
        return cfg.units(amount, decimals)

    return TaskParams(
        model_spec_hash=spec.model_spec_hash,
        validation_spec_hash=spec.validation_spec_hash,
        config_hash=spec.config_hash,
        initial_model_hash=initial_hash,
        aggregator=to_checksum_address(aggregator),
        commit_window=fed.commit_window,
        reveal_window=fed.reveal_window,
        post_timeout=fed.post_timeout,
        challenge_window=fed.challenge_window,
        arbiter_timeout=fed.arbiter_timeout,
        claim_window=fed.claim_window,
        min_clients=fed.start_clients,
        max_clients=fed.max_clients,
        num_rounds=fed.rounds,
        allowlist=fed.allowlist,
        mode=cfg.mode_id,
        stake_min=units(fed.stake_min),
        join_bond=units(fed.join_bond),
        aggregator_bond=units(fed.aggregator_bond),
        challenge_bond=units(fed.challenge_bond),
        reward_per_round=units(fed.reward_per_round),
        payout_threshold=units(fed.payout_threshold),
        payout_cap=cfg.wei(fed.payout_cap),  # WAD fixed point of the decimal value
        grief_ratio=cfg.wei(fed.grief_ratio),
        grief_cap=cfg.wei(fed.grief_cap),
    )


def metadata_uri(spec: TaskSpec) -> str:
    """What ``TaskCreated`` logs about the task: its name, store and config hash (JSON)."""
    cfg = spec.config
    return json.dumps(
        {"name": cfg.name, "store": cfg.store, "config": hex32(spec.config_hash)},
        sort_keys=True,
        separators=(",", ":"),
    )


def base_decimals(client: ChainClient) -> int:
    """Decimals of the deployment's base token (read from the token)."""
    return BaseToken(client).decimals


def create_task(
    client: ChainClient,
    sponsor: LocalAccount,
    spec: TaskSpec | TaskContext,
    store: ArtifactStore,
    aggregator: str,
    fund: bool = True,
) -> int:
    """Upload the initial model, create the task, escrow the budget; returns the task id."""
    if isinstance(spec, TaskContext):
        spec = TaskSpec.bundled(spec)
    base = BaseToken(client)
    budget = spec.config.units(spec.config.federation.budget, base.decimals)
    if fund:
        _check_funds(base, sponsor, budget)  # before anything is created on-chain
    initial_hash = store.put(spec.initial_blob, owner=sponsor.address)  # the sponsor's prefix
    params = task_params(spec, aggregator, bytes.fromhex(initial_hash[2:]), base.decimals)
    api = FederationApi.create_task(client, sponsor, params, metadata_uri(spec))
    if fund:
        fund_task(client, sponsor, api.task_id, budget)
    return api.task_id


def _check_funds(base: BaseToken, sponsor: LocalAccount, amount: int) -> None:
    balance = base.balance_of(sponsor.address)
    if balance < amount:
        raise ChainError(
            f"the sponsor {sponsor.address} holds {base.format(balance)} base tokens, "
            f"{base.format(amount)} are needed to fund the task's budget"
        )


def fund_task(client: ChainClient, sponsor: LocalAccount, task_id: int, amount: int) -> None:
    """Escrow ``amount`` base tokens for ``task_id`` (anyone may top a task up)."""
    api = FederationApi(client, task_id)
    _check_funds(api.base, sponsor, amount)
    api.fund(sponsor, amount)  # approves the escrow for what its allowance is short of
