"""Deploy the suite from Brownie: ``brownie run scripts/deploy.py --network anvil`` (or any
configured network), or ``run("deploy")`` in ``brownie console``.

It runs the project's single deployment sequence (:func:`fl_node.chain.deploy.deploy_suite`),
writes ``deployments/<chainId>.json`` for the Python nodes, and returns Brownie contract objects
for interactive use.

Signer: on local dev networks, Brownie's ``accounts[0]`` (Anvil's first dev key); on live
networks, the Brownie account named by ``$FL_DEPLOYER`` (``brownie accounts new <id>`` first).
The deployer keeps no power: on live networks set ``$FL_ARBITER`` (decides challenges) and
``$FL_GOVERNORS`` (comma-separated proposers of the timelock that names the arbiter; a multisig),
optionally ``$FL_TIMELOCK_DELAY`` (seconds, default two days). Set ``$FL_BASE_TOKEN`` to use an
existing ERC-20 (e.g. a test-network stablecoin) as base token.
"""

from __future__ import annotations

import os
from pathlib import Path

from brownie import Contract, accounts, network, web3

from fl_node.chain.client import ChainClient
from fl_node.chain.deploy import SuiteConfig, deploy_suite
from fl_node.chain.deployments import default_path
from fl_node.chain.keys import account_from_key
from fl_node.errors import ConfigError
from fl_node.toolchain.localchain import dev_private_keys


def _signer():
    if network.show_active() in ("anvil", "development") or web3.eth.chain_id == 31337:
        keys = {account_from_key(k).address: k for k in dev_private_keys(20)}
        if accounts[0].address not in keys:
            raise ConfigError("the dev chain's accounts are not Anvil's dev mnemonic accounts")
        return account_from_key(keys[accounts[0].address])
    name = os.environ.get("FL_DEPLOYER")
    if not name:
        raise ConfigError("set FL_DEPLOYER to the id of a Brownie account (brownie accounts list)")
    return account_from_key(accounts.load(name).private_key)


def main():
    client = ChainClient(web3.provider.endpoint_uri)
    env = os.environ
    delay = env.get("FL_TIMELOCK_DELAY")
    config = SuiteConfig(
        base_token=env.get("FL_BASE_TOKEN") or None,
        arbiter=env.get("FL_ARBITER") or None,
        governors=tuple(g.strip() for g in env.get("FL_GOVERNORS", "").split(",") if g.strip()),
        timelock_delay=int(delay) if delay else None,
    )
    deployment = deploy_suite(client, _signer(), Path("build"), config, progress=print)
    path = deployment.save(default_path(client.chain_id))
    print(f"deployment written to {path}")
    return {
        name: Contract.from_abi(name, rec.address, rec.abi)
        for name, rec in deployment.contracts.items()
    }
