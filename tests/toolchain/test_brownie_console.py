"""Brownie's side: public networks registered from the project's files, the console and scripts
attached to the suite `fl-node deploy` put on a running chain, and the deploy script's settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fl_node.chain.deployments import Deployment
from fl_node.cli import main
from fl_node.toolchain.localchain import LocalChain, free_port, project_root
from fl_node.toolchain.networks import PUBLIC_NETWORKS, merge_networks, register_brownie_networks

ROOT = project_root()
EXPECTED = {
    "fl-sepolia": (11155111, "$SEPOLIA_RPC_URL"),
    "fl-base-sepolia": (84532, "$BASE_SEPOLIA_RPC_URL"),
    "fl-arbitrum-sepolia": (421614, "$ARBITRUM_SEPOLIA_RPC_URL"),
}


def _env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a Brownie subprocess: its own HOME (so ~/.brownie is a scratch one)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FL_") and not k.endswith("_RPC_URL")
    }
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def _launcher(home: Path, *args: str, stdin: str = "", **extra: str):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "fl_node.toolchain.brownie_cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(home, **extra),
        timeout=300,
        check=False,
    )


# -- public networks -------------------------------------------------------------------------------
def test_networks_are_registered_once_and_brownie_reads_them(tmp_path: Path) -> None:
    folder = tmp_path / ".brownie"
    assert sorted(register_brownie_networks(folder)) == sorted(EXPECTED)
    config_file = folder / "network-config.yaml"
    written = config_file.read_text()
    assert register_brownie_networks(folder) == []  # idempotent: nothing changed
    assert config_file.read_text() == written
    check = (
        "from brownie._config import CONFIG\n"
        f"for id_ in {sorted(EXPECTED)!r}:\n"
        "    n = CONFIG.networks[id_]\n"
        "    print(id_, n['chainid'], n['host'], 'cmd' in n)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
        check=True,
    )
    lines = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()}
    for id_, (chain_id, host) in EXPECTED.items():
        assert lines[id_] == [str(chain_id), host, "False"]  # live networks, URL from env


def test_a_stale_entry_with_the_same_id_is_replaced() -> None:
    config = {
        "development": [{"id": "fl-sepolia", "cmd": "anvil", "host": "x"}],
        "live": [{"name": "Ethereum", "networks": [{"id": "fl-base-sepolia", "chainid": 1}]}],
    }
    changed = merge_networks(config, PUBLIC_NETWORKS)
    assert sorted(changed) == sorted(EXPECTED)
    assert config["development"] == [] and config["live"][0]["networks"] == []
    ours = {n["id"]: n for n in config["live"][1]["networks"]}
    assert ours["fl-base-sepolia"]["chainid"] == 84532
    assert merge_networks(config, PUBLIC_NETWORKS) == []


# -- the console and scripts on a running chain ----------------------------------------------------
@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A chain already running (as `fl-node chain --port N` leaves one) with the suite deployed
    by `fl-node deploy`, and a scratch HOME for Brownie."""
    home = tmp_path_factory.mktemp("home")
    with LocalChain(accounts=4) as chain:
        path = tmp_path_factory.mktemp("deploy") / "31337.json"
        assert (
            main(["deploy", "--rpc", chain.rpc_url, "--dev-account", "0", "--out", str(path)]) == 0
        )
        yield chain, path, home


def test_the_console_attaches_the_suite_fl_node_deployed(deployed) -> None:  # type: ignore[no-untyped-def]
    chain, path, home = deployed
    federation = Deployment.load(path).address("Federation")
    script = (
        "print('FED', Federation[-1].address, len(Federation), StakeVault[-1].withdrawDelay())\n"
    )
    out = _launcher(
        home, "--rpc", chain.rpc_url, "console", "--deployment", str(path), stdin=script
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"FED {federation} 1 60" in out.stdout
    assert f"Attached to local RPC client listening at '127.0.0.1:{chain.port}'" in out.stdout
    # brownie-config.yaml still names port 8545: nothing was edited
    assert (
        yaml.safe_load((ROOT / "brownie-config.yaml").read_text())["networks"]["anvil"][
            "cmd_settings"
        ]["port"]
        == 8545
    )


def test_the_attach_script_runs_without_a_console(deployed) -> None:  # type: ignore[no-untyped-def]
    chain, path, home = deployed
    out = _launcher(
        home, "--rpc", chain.rpc_url, "run", "scripts/attach.py", FL_DEPLOYMENT=str(path)
    )
    assert out.returncode == 0, out.stdout + out.stderr
    record = Deployment.load(path)
    for name in ("Federation", "StakeVault", "DevToken"):
        assert f"{name:<15} {record.address(name)}" in out.stdout


def test_an_edited_build_is_noted_when_attaching(deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chain, path, home = deployed
    data = json.loads(path.read_text())
    data["contracts"]["Federation"]["abi"] = data["contracts"]["Federation"]["abi"][:-1]
    edited = tmp_path / "31337.json"
    edited.write_text(json.dumps(data))
    out = _launcher(
        home, "--rpc", chain.rpc_url, "run", "scripts/attach.py", FL_DEPLOYMENT=str(edited)
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "note: Federation changed in the build since this deployment" in out.stdout


def test_the_deploy_script_refuses_to_replace_a_deployment_unless_forced(
    deployed, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    chain, path, home = deployed
    target = tmp_path / "31337.json"
    target.write_text(path.read_text())
    run = ("--rpc", chain.rpc_url, "run", "scripts/deploy.py")
    refused = _launcher(home, *run, FL_DEPLOYMENT=str(target))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {target} already holds the deployment of chain 31337 (Federation at "
        f"{Deployment.load(path).address('Federation')}, deployed at block 0): set FL_FORCE=1 "
        '(in the console: run("deploy", kwargs={"force": True})) to deploy a new suite and '
        f"replace it (the old file is kept in {tmp_path / 'history'}/)"
    )
    assert target.read_text() == path.read_text()
    forced = _launcher(home, *run, FL_DEPLOYMENT=str(target), FL_FORCE="1")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    kept = list((tmp_path / "history").glob("31337-block0-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == path.read_text()
    assert Deployment.load(target).address("Federation") != Deployment.load(path).address(
        "Federation"
    )


def test_the_deploy_script_checks_the_base_token(deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chain, _path, home = deployed
    eoa = "0x" + "44" * 20
    out = _launcher(
        home, "--rpc", chain.rpc_url, "run", "scripts/deploy.py",
        FL_DEPLOYMENT=str(tmp_path / "d.json"), FL_BASE_TOKEN=eoa,
    )  # fmt: skip
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: the base token 0x4444444444444444444444444444444444444444 has no contract code"
        )
    )


def test_a_reset_chain_is_named_in_the_console(deployed) -> None:  # type: ignore[no-untyped-def]
    _chain, path, home = deployed
    federation = Deployment.load(path).address("Federation")
    with LocalChain(accounts=2) as fresh:
        out = _launcher(home, "--rpc", fresh.rpc_url, "console", "--deployment", str(path),
                        stdin="print('OPEN', len(Federation))\n")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert (
        f"note: no suite attached: the deployment in {path} is not on this chain (no code at "
        f"{federation}): the chain was reset; deploy again"
    ) in out.stdout
    assert "OPEN 0" in out.stdout  # the console stays open


@pytest.mark.parametrize(
    ("rpc", "message"),
    [
        ("127.0.0.1:8545", "is not a URL with a port"),
        ("http://127.0.0.1", "is not a URL with a port"),
        (None, "nothing answers at http://127.0.0.1:{port}: start a chain first"),
    ],
)
def test_bad_rpc_urls_are_one_line(tmp_path: Path, rpc: str | None, message: str) -> None:
    port = free_port()
    url = rpc or f"http://127.0.0.1:{port}"
    out = _launcher(tmp_path, "--rpc", url, "console")
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
    assert message.format(port=port) in out.stderr


def test_a_public_network_without_its_rpc_url_is_one_line(tmp_path: Path) -> None:
    out = _launcher(tmp_path, "run", "scripts/deploy.py", "--network", "fl-base-sepolia")
    assert out.returncode == 2
    assert out.stderr == (
        "error: --network fl-base-sepolia takes its RPC URL from $BASE_SEPOLIA_RPC_URL: set it "
        "to your provider's Base Sepolia endpoint (https://...)\n"
    )
    both = _launcher(tmp_path, "--rpc", "http://127.0.0.1:1", "console", "--network", "fl-sepolia")
    assert both.stderr == "error: pass --rpc or --network fl-sepolia, not both\n"


def test_the_deploy_script_documents_its_settings() -> None:
    out = subprocess.run(
        [sys.executable, "scripts/deploy.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for name in ("FL_DEPLOYER", "FL_KEY_FILE", "FL_ARBITER", "FL_GOVERNORS", "FL_TIMELOCK_DELAY",
                 "FL_BASE_TOKEN", "FL_DEPLOYMENT", "FL_FORCE"):  # fmt: skip
        assert f"\n  {name} " in out.stdout, name
    source = (ROOT / "scripts" / "deploy.py").read_text()
    used = set(re.findall(r'"FL_([A-Z_]+)"', source))
    documented = {
        line.split()[0][3:] for line in out.stdout.splitlines() if line.startswith("  FL_")
    }
    assert used <= documented | {"NODE_PASSWORD"}  # every variable the script reads is listed


def test_a_public_network_rehearsal_names_its_signer_and_chain(deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Sepolia's chain id on a local chain: the script wants a named signer (one), and the attach
    refuses another chain's deployment file."""
    _chain, local_file, home = deployed
    out_file = tmp_path / "11155111.json"
    roles = {"FL_ARBITER": "0x" + "a1" * 20, "FL_GOVERNORS": "0x" + "b2" * 20}
    with LocalChain(chain_id=11155111, accounts=2) as rehearsal:
        run = ("--rpc", rehearsal.rpc_url, "run", "scripts/deploy.py")
        unnamed = _launcher(home, *run, FL_DEPLOYMENT=str(out_file), **roles)
        both = _launcher(home, *run, FL_DEPLOYMENT=str(out_file), FL_KEY_FILE="k.json",
                         FL_DEPLOYER="me", **roles)  # fmt: skip
        wrong = _launcher(home, "--rpc", rehearsal.rpc_url, "run", "scripts/attach.py",
                          FL_DEPLOYMENT=str(local_file))  # fmt: skip
    assert unnamed.returncode == 2
    assert "error: on a live network set FL_DEPLOYER" in unnamed.stderr
    assert both.returncode == 2
    assert "error: pass one signing key: FL_DEPLOYER or FL_KEY_FILE, not both" in both.stderr
    assert not out_file.exists()
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines()[-1] == (
        f"error: {local_file} is the deployment of chain 31337, but Brownie is connected to chain "
        "11155111: pick the right --network or deployment file"
    )


def test_the_deploy_script_signs_with_a_keystore(deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from eth_account import Account

    from fl_node.toolchain.localchain import dev_private_keys

    chain, _path, home = deployed
    key = dev_private_keys(2)[1]
    store = tmp_path / "deployer.json"
    store.write_text(json.dumps(Account.encrypt(key, "pw", iterations=2)))
    store.chmod(0o600)
    out_file = tmp_path / "31337.json"
    done = _launcher(home, "--rpc", chain.rpc_url, "run", "scripts/deploy.py",
                     FL_DEPLOYMENT=str(out_file), FL_KEY_FILE=str(store), FL_NODE_PASSWORD="pw",
                     FL_WITHDRAW_DELAY="5")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    deployment = Deployment.load(out_file)
    assert deployment.roles["faucet"] == Account.from_key(key).address  # the keystore's account
    bad = _launcher(home, "--rpc", chain.rpc_url, "run", "scripts/deploy.py",
                    FL_DEPLOYMENT=str(tmp_path / "x.json"), FL_WITHDRAW_DELAY="soon")  # fmt: skip
    assert bad.returncode == 2
    assert "error: $FL_WITHDRAW_DELAY='soon' is not a whole number" in bad.stderr
