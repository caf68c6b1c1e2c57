"""Deploy the suite from Brownie: ``brownie run scripts/deploy.py --network <id>``
(``make deploy``), or ``run("deploy")`` in ``brownie console``. ``python scripts/deploy.py
--help`` lists its settings (environment variables).

It runs the project's single deployment sequence (:func:`fl_node.chain.deploy.deploy_suite`),
writes ``deployments/<chainId>.json`` for the Python nodes, and attaches the contracts to Brownie's
containers (``Federation[-1]`` is the new federation). An existing deployment file is never
replaced silently: set ``FL_FORCE=1`` (or ``run("deploy", kwargs={"force": True})``) to replace
it; the old file is kept in ``deployments/history/``.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

#: Every setting of the script, read from the environment (documented in ``--help``).
SETTINGS = {
    "FL_DEPLOYER": "live networks: id of the Brownie account that deploys and pays the gas "
    "(`brownie accounts new <id>` first; Brownie asks its password)",
    "FL_KEY_FILE": "instead of FL_DEPLOYER: a keystore or hex key file of the deployer "
    "(`fl-node account new|import`; password from FL_NODE_PASSWORD or a prompt)",
    "FL_ARBITER": "address that decides challenged rounds (required on live networks; local: "
    "dev account 1000)",
    "FL_GOVERNORS": "comma-separated addresses that propose changes through the timelock, e.g. "
    "a multisig (required on live networks; local: dev account 1001)",
    "FL_TIMELOCK_DELAY": "seconds every governance change waits in public (default: two days; "
    "60 on local chains)",
    "FL_BASE_TOKEN": "an existing ERC-20 to use as base token, e.g. a test-network stablecoin "
    "(checked first: contract code, the ERC-20 views, 0 to 36 decimals); unset: deploy a DevToken",
    "FL_BASE_DECIMALS": "decimals of the DevToken deployed without FL_BASE_TOKEN (default 18)",
    "FL_FAUCET": "address allowed to mint the DevToken (default: the deployer)",
    "FL_WITHDRAW_DELAY": "seconds of the stake-withdrawal countdown (default 60)",
    "FL_DIVIDEND_DURATION": "seconds over which each dividend distribution streams (default 3600)",
    "FL_DEPLOYMENT": "deployment file to write (default: deployments/<chainId>.json)",
    "FL_FORCE": "1 to replace an existing deployment file (the old one goes to its history/ "
    "folder); without it a second deploy to a chain is refused before any transaction",
}


def usage() -> str:
    from fl_node.toolchain.networks import describe

    lines = [
        "usage: brownie run scripts/deploy.py --network <id>   (or make deploy NETWORK=<id>)",
        '       run("deploy") in brownie console; run("deploy", kwargs={"force": True}) replaces',
        "",
        "Deploys the fl-node suite and writes deployments/<chainId>.json. Settings, from the",
        "environment:",
    ]
    for name, text in SETTINGS.items():
        lines += textwrap.wrap(
            text,
            98,
            initial_indent=f"  {name:<21} ",
            subsequent_indent=" " * 24,
            break_on_hyphens=False,
        )
    lines += [
        "",
        "Signer: on local dev chains (chain id 31337) Brownie's accounts[0] unless FL_KEY_FILE is",
        "set; on live networks FL_DEPLOYER or FL_KEY_FILE (exactly one).",
        "",
        "Public networks (registered with Brownie by make deploy / make console / tools/env.sh):",
        describe(),
    ]
    return "\n".join(lines)


def _int(name: str, default: int | None) -> int | None:
    from fl_node.errors import ConfigError

    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"${name}={text!r} is not a whole number") from None


def _flag(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "force")


def _signer(chain_id: int):
    from brownie import accounts

    from fl_node.chain.keys import account_from_key, load_account
    from fl_node.errors import ConfigError
    from fl_node.toolchain.localchain import DEV_CHAIN_ID, dev_private_keys

    key_file = os.environ.get("FL_KEY_FILE")
    name = os.environ.get("FL_DEPLOYER")
    if key_file and name:
        raise ConfigError("pass one signing key: FL_DEPLOYER or FL_KEY_FILE, not both")
    if key_file:
        return load_account(key_file=Path(key_file))
    if name:
        return account_from_key(accounts.load(name).private_key)
    if chain_id == DEV_CHAIN_ID:
        keys = {account_from_key(k).address: k for k in dev_private_keys(20)}
        if not len(accounts) or accounts[0].address not in keys:
            raise ConfigError("the dev chain's accounts are not Anvil's dev mnemonic accounts")
        return account_from_key(keys[accounts[0].address])
    raise ConfigError(
        "on a live network set FL_DEPLOYER (a Brownie account id: brownie accounts list) or "
        "FL_KEY_FILE (a keystore or hex key file)"
    )


def _config():
    from fl_node.chain.deploy import SuiteConfig

    env = os.environ
    return SuiteConfig(
        base_token=env.get("FL_BASE_TOKEN") or None,
        base_decimals=_int("FL_BASE_DECIMALS", 18) or 0,
        arbiter=env.get("FL_ARBITER") or None,
        governors=tuple(g.strip() for g in env.get("FL_GOVERNORS", "").split(",") if g.strip()),
        timelock_delay=_int("FL_TIMELOCK_DELAY", None),
        faucet=env.get("FL_FAUCET") or None,
        withdraw_delay=_int("FL_WITHDRAW_DELAY", 60) or 0,
        dividend_duration=_int("FL_DIVIDEND_DURATION", 3_600) or 0,
    )


def main(force=None):
    from brownie import web3

    from fl_node.chain.client import ChainClient
    from fl_node.chain.deploy import deploy_suite
    from fl_node.chain.deployments import check_replaceable, publish
    from fl_node.toolchain.brownie_suite import attach_deployment, deployment_path, script_errors
    from fl_node.toolchain.localchain import project_root

    with script_errors():
        client = ChainClient(web3.provider.endpoint_uri)
        path = deployment_path(client.chain_id)
        forced = _flag(force) or _flag(os.environ.get("FL_FORCE", ""))
        check_replaceable(
            path, forced, 'set FL_FORCE=1 (in the console: run("deploy", kwargs={"force": True}))'
        )
        config = _config()
        deployer = _signer(client.chain_id)
        deployment = deploy_suite(client, deployer, project_root() / "build", config, print)
        kept = publish(deployment, path)
        if kept is not None:
            print(f"the previous deployment file was moved to {kept}")
        print(f"deployment written to {path}")
        return attach_deployment(path, quiet=True)


if __name__ == "__main__":
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(usage())
        sys.exit(0)
    sys.exit("run this script with Brownie: brownie run scripts/deploy.py --network <id> (--help)")
