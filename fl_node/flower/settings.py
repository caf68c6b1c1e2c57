"""Where a settled Flower run finds its chain, its keys and its store.

A SuperNode's own settings come from its ``--node-config`` (Flower's per-node config), shared ones
may come from the run config (``[tool.flwr.app.config]`` of the app, ``flwr run --run-config``),
and an app may give defaults in code (``SettleMod(defaults=...)``, handy for the simulation
engine, whose nodes have no node config of their own). The first non-empty value wins, in that
order. A client's signing key is never read from the run config, which every node of the run
receives: it comes from the node config, the defaults or ``$FL_NODE_KEY``.

========================  ============================================================
key                       meaning
========================  ============================================================
``fl-node-rpc``           the chain's JSON-RPC URL
``fl-node-deployment``    the deployment file (addresses and ABIs)
``fl-node-store``         the shared artifact store (path, ``file://``, ``s3://``)
``fl-node-workdir``       where the node keeps its update until revealed, and checkpoints
``task-config``           the task config (YAML path or bundled name); its hash is on-chain
``fl-node-key-file``      the client's key file (a keystore or a hex key); ``{partition-id}``
                          in it is replaced by the node's partition id
``fl-node-dev-account``   a dev account of the local chain's mnemonic (local chains only);
                          with ``fl-node-dev-account-base`` instead, account base +
                          ``partition-id`` (the simulation engine's nodes)
``fl-node-sync-send``     ``true``: send each transaction with
                          ``eth_sendRawTransactionSync`` (EIP-7966), its receipt in the
                          answer, for a local chain that mines every transaction at once
                          (an automining Anvil); a node without the method is sent to
                          as usual. Default ``false``: send, then poll for the receipt
========================  ============================================================

The aggregator's ServerApp reads ``fl-node-rpc``, ``fl-node-deployment``, ``fl-node-store``,
``fl-node-workdir``, ``task-config``, ``fl-node-sync-send``, ``fl-node-task`` (the on-chain task
id), ``fl-node-evaluator`` and its key from ``fl-node-aggregator-key-file`` or
``fl-node-aggregator-dev-account`` (or ``$FL_NODE_KEY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount

from fl_node.config import TaskConfig, parse_flag
from fl_node.errors import ConfigError

if TYPE_CHECKING:
    from fl_node.artifacts.store import ArtifactStore
    from fl_node.chain.client import ChainClient

RPC, DEPLOYMENT, STORE, WORKDIR = (
    "fl-node-rpc",
    "fl-node-deployment",
    "fl-node-store",
    "fl-node-workdir",
)
TASK_CONFIG = "task-config"
KEY_FILE, DEV_ACCOUNT, DEV_ACCOUNT_BASE = (
    "fl-node-key-file",
    "fl-node-dev-account",
    "fl-node-dev-account-base",
)
TASK, EVALUATOR = "fl-node-task", "fl-node-evaluator"
SYNC_SEND = "fl-node-sync-send"
AGGREGATOR_KEY_FILE, AGGREGATOR_DEV_ACCOUNT = (
    "fl-node-aggregator-key-file",
    "fl-node-aggregator-dev-account",
)
PARTITION_ID = "partition-id"
DEFAULT_RPC = "http://127.0.0.1:8545"
DEFAULT_WORKDIR = ".fl-node"


def _given(value: Any) -> bool:
    """TOML has no null: an empty string or a negative account index means "not set"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    return not (isinstance(value, int) and not isinstance(value, bool) and value < 0)


def pick(key: str, *sources: Mapping[str, Any] | None, default: Any = None) -> Any:
    """The first set value of ``key`` in ``sources``."""
    for source in sources:
        if source is not None and _given(source.get(key)):
            return source[key]
    return default


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {value!r}") from None


def _bool(value: Any, key: str) -> bool:
    flag = parse_flag(value)
    if flag is None:
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return flag


def load_task_config(ref: str) -> TaskConfig:
    from fl_node.configs import load_config

    return load_config(ref)


@dataclass(frozen=True)
class Signer:
    """How a role finds its key: a key file, a dev account (local chains) or ``$FL_NODE_KEY``."""

    key_file: Path | None = None
    dev_account: int | None = None
    what: str = "this node"

    def account(self, chain_id: int) -> LocalAccount:
        from fl_node.chain.keys import load_account
        from fl_node.toolchain.localchain import DEV_CHAIN_ID, dev_private_key

        if self.key_file is not None and self.dev_account is not None:
            raise ConfigError(f"{self.what}: give a key file or a dev account, not both")
        if self.dev_account is not None:
            if chain_id != DEV_CHAIN_ID:
                raise ConfigError(
                    f"{self.what}: dev accounts only exist on local dev chains (chain id "
                    f"{DEV_CHAIN_ID}), this is chain id {chain_id}: give a key file"
                )
            from fl_node.chain.keys import account_from_key

            return account_from_key(dev_private_key(self.dev_account))
        return load_account(key_file=self.key_file)


@dataclass(frozen=True)
class ChainSettings:
    rpc: str
    deployment: Path | None
    store: str
    workdir: Path
    task_config: str
    signer: Signer
    sync_send: bool = False

    def connect(self) -> ChainClient:
        """A chain client with the deployment (default: ``deployments/<chainId>.json``)."""
        return self.connect_with_path()[0]

    def connect_with_path(self) -> tuple[ChainClient, Path]:
        """:meth:`connect`, and the deployment file it read."""
        from fl_node.chain.client import ChainClient
        from fl_node.chain.deployments import Deployment, default_path

        path = self.deployment or default_path(ChainClient(self.rpc).chain_id)
        client = ChainClient(self.rpc, Deployment.load(Path(path)))
        client.sync_send = self.sync_send
        return client, Path(path)

    def open_store(self) -> ArtifactStore:
        from fl_node.artifacts.shared import open_shared_store

        return open_shared_store(self.store)

    def config(self) -> TaskConfig:
        return load_task_config(self.task_config)


def node_settings(
    node_config: Mapping[str, Any],
    run_config: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> ChainSettings:
    """A SuperNode's settings: its node config, then the run config (shared settings only), then
    the app's defaults."""
    shared = (node_config, run_config, defaults)

    def need(key: str) -> Any:
        value = pick(key, *shared)
        if value is None:
            raise ConfigError(
                f"a settled Flower client needs {key!r}: set it in the SuperNode's --node-config "
                f"(flower-supernode --node-config '{key}=\"...\"') or in the app's run config"
            )
        return value

    partition = node_config.get(PARTITION_ID)
    key_file = pick(KEY_FILE, node_config, defaults)
    dev = pick(DEV_ACCOUNT, node_config, defaults)
    base = pick(DEV_ACCOUNT_BASE, node_config, run_config, defaults)
    if key_file is not None and "{partition-id}" in str(key_file):
        if partition is None:
            raise ConfigError(f"{KEY_FILE} {key_file!r} names {{partition-id}}: set partition-id")
        key_file = str(key_file).replace("{partition-id}", str(partition))
    if dev is None and base is not None and key_file is None:
        if partition is None:
            raise ConfigError(f"{DEV_ACCOUNT_BASE} needs the node's partition-id")
        dev = _int(base, DEV_ACCOUNT_BASE) + _int(partition, PARTITION_ID)
    deployment = pick(DEPLOYMENT, *shared)
    return ChainSettings(
        rpc=str(pick(RPC, *shared, default=DEFAULT_RPC)),
        deployment=Path(deployment) if deployment is not None else None,
        store=str(need(STORE)),
        workdir=Path(pick(WORKDIR, *shared, default=DEFAULT_WORKDIR)),
        task_config=str(need(TASK_CONFIG)),
        signer=Signer(
            key_file=Path(key_file) if key_file is not None else None,
            dev_account=_int(dev, DEV_ACCOUNT) if dev is not None else None,
            what="this SuperNode",
        ),
        sync_send=_bool(pick(SYNC_SEND, *shared, default=False), SYNC_SEND),
    )


@dataclass(frozen=True)
class ServerSettings(ChainSettings):
    task_id: int = 0
    evaluator: str = ""


def server_settings(
    run_config: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> ServerSettings:
    """The aggregator's settings: the run config, then the ServerApp's defaults."""
    from fl_node.federation.setup import DEFAULT_EVALUATOR

    sources = (run_config, defaults)

    def need(key: str) -> Any:
        value = pick(key, *sources)
        if value is None:
            raise ConfigError(
                f"the settled ServerApp needs {key!r}: set it in the app's run config "
                f"(flwr run ... --run-config '{key}=...') or in the ServerApp's defaults"
            )
        return value

    deployment = pick(DEPLOYMENT, *sources)
    key_file = pick(AGGREGATOR_KEY_FILE, *sources)
    dev = pick(AGGREGATOR_DEV_ACCOUNT, *sources)
    return ServerSettings(
        rpc=str(pick(RPC, *sources, default=DEFAULT_RPC)),
        deployment=Path(deployment) if deployment is not None else None,
        store=str(need(STORE)),
        workdir=Path(pick(WORKDIR, *sources, default=DEFAULT_WORKDIR)),
        task_config=str(need(TASK_CONFIG)),
        signer=Signer(
            key_file=Path(key_file) if key_file is not None else None,
            dev_account=_int(dev, AGGREGATOR_DEV_ACCOUNT) if dev is not None else None,
            what="the aggregator",
        ),
        sync_send=_bool(pick(SYNC_SEND, *sources, default=False), SYNC_SEND),
        task_id=_int(need(TASK), TASK),
        evaluator=str(pick(EVALUATOR, *sources, default=DEFAULT_EVALUATOR)),
    )
