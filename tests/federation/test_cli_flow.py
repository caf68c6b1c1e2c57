"""The sponsor's path by hand, through the CLI: deploy, mint, create a task, show it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_node.cli import main
from fl_node.toolchain.localchain import LocalChain, dev_private_keys


@pytest.fixture(scope="module")
def chain():  # type: ignore[no-untyped-def]
    with LocalChain(accounts=5) as c:
        yield c


@pytest.fixture(scope="module")
def deployed(chain, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("cli") / "deployment.json"
    assert main(["deploy", "--rpc", chain.rpc_url, "--dev-account", "0", "--out", str(path)]) == 0
    return path


def _common(chain, deployed: Path) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--rpc", chain.rpc_url, "--deployment", str(deployed)]


def test_mint_create_and_show(chain, deployed: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from eth_account import Account

    sponsor = Account.from_key(dev_private_keys(2)[1]).address
    aggregator = Account.from_key(dev_private_keys(3)[2]).address
    common = _common(chain, deployed)
    assert main(["mint", *common, "--dev-account", "0", "--to", sponsor, "--amount", "1000"]) == 0
    assert "now holds 1000" in capsys.readouterr().out
    argv = ["task", "create", *common, "--dev-account", "1", "--config", "tiny",
            "--store", f"file://{tmp_path / 'store'}", "--aggregator", aggregator]  # fmt: skip
    assert main(argv) == 0
    task_id = int(capsys.readouterr().out.strip().splitlines()[-1])
    assert task_id == 1
    assert main(["task", "show", *common, "--task", "1"]) == 0
    out = capsys.readouterr().out
    assert "task 1: active, round 0/2, 0 participant(s) (round 1 needs 3)" in out
    assert aggregator in out
    assert "join bond 10, challenge bond 100" in out


def test_bad_inputs(chain, deployed: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    common = _common(chain, deployed)
    cases = [
        (
            ["mint", *common, "--dev-account", "0", "--to", "0x12", "--amount", "5"],
            "not an address",
        ),
        (["task", "show", *common, "--task", "99"], "there is no task 99"),
        (
            ["task", "create", *common, "--dev-account", "1", "--aggregator", "bob"],
            "not an address",
        ),
        (
            ["mint", *common, "--dev-account", "4", "--to", "0x" + "11" * 20, "--amount", "5"],
            "AccessControlUnauthorizedAccount",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
    with pytest.raises(SystemExit) as exc:  # refused by argparse, before the chain is asked
        main(["mint", *common, "--dev-account", "0", "--to", "0x" + "11" * 20, "--amount", "-5"])
    assert exc.value.code == 2
    assert "argument --amount: -5 must be > 0" in capsys.readouterr().err


def test_sponsor_without_funds_gets_a_clear_error(
    chain, deployed: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    argv = ["task", "create", *_common(chain, deployed), "--dev-account", "3", "--config", "tiny",
            "--store", f"file://{tmp_path}", "--aggregator", "0x" + "22" * 20]  # fmt: skip
    from fl_node.chain.client import ChainClient
    from fl_node.chain.deployments import Deployment

    client = ChainClient(chain.rpc_url, Deployment.load(deployed))
    tasks = client.contract("Federation").functions.taskCount()
    before = client.call(tasks)
    assert main(argv) == 2
    assert "are needed to fund the task's budget" in capsys.readouterr().err
    assert client.call(tasks) == before  # nothing was created


def test_stake_deposit_countdown_and_withdraw(chain, deployed: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from eth_account import Account

    from fl_node.toolchain.localchain import rpc_call

    common = _common(chain, deployed)
    me = Account.from_key(dev_private_keys(3)[2]).address
    assert main(["mint", *common, "--dev-account", "0", "--to", me, "--amount", "300"]) == 0
    stake = ["stake", "deposit", *common, "--dev-account", "2", "--amount", "250"]
    assert main(stake) == 0
    assert "stake 250, locked 0, free 250" in capsys.readouterr().out
    assert main(["stake", "request", *common, "--dev-account", "2", "--amount", "100"]) == 0
    assert "withdrawal of 100 pending" in capsys.readouterr().out
    # the countdown (60 s in the default deployment) is still running
    assert main(["stake", "withdraw", *common, "--dev-account", "2"]) == 2
    assert "CountdownRunning" in capsys.readouterr().err
    rpc_call(chain.rpc_url, "evm_increaseTime", [61])
    assert main(["stake", "withdraw", *common, "--dev-account", "2"]) == 0
    assert "stake 150, locked 0, free 150" in capsys.readouterr().out
    # more than the wallet holds, and nonsense amounts
    assert main(["stake", "deposit", *common, "--dev-account", "2", "--amount", "1000"]) == 2
    assert "cannot deposit 1000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stake", "deposit", *common, "--dev-account", "2", "--amount", "zero"])
    assert "is not a number" in capsys.readouterr().err


def test_the_deployer_keeps_no_power(chain, deployed: Path) -> None:  # type: ignore[no-untyped-def]
    """After `fl-node deploy` the deployer (dev account 0) holds no role: the vault and escrow are
    bound to the federation, the arbiter and the governor (a timelock) are other accounts."""
    from eth_account import Account
    from eth_utils import keccak

    from fl_node.chain.client import ChainClient
    from fl_node.chain.deploy import local_arbiter, local_governor
    from fl_node.chain.deployments import Deployment

    deployment = Deployment.load(deployed)
    client = ChainClient(chain.rpc_url, deployment)
    deployer = Account.from_key(dev_private_keys(1)[0]).address
    federation = client.contract("Federation")
    timelock = client.contract("Timelock")
    assert client.call(client.contract("StakeVault").functions.federation()) == federation.address
    assert client.call(client.contract("RewardEscrow").functions.federation()) == federation.address
    assert client.call(federation.functions.arbiter()) == local_arbiter().address
    assert client.call(federation.functions.governor()) == timelock.address
    assert deployment.roles["governor"] == timelock.address
    assert deployment.roles["arbiter"] == local_arbiter().address
    for role in ("PROPOSER_ROLE", "CANCELLER_ROLE", "DEFAULT_ADMIN_ROLE"):
        role_id = b"\x00" * 32 if role == "DEFAULT_ADMIN_ROLE" else keccak(text=role)
        assert not client.call(timelock.functions.hasRole(role_id, deployer)), role
        if role != "DEFAULT_ADMIN_ROLE":
            assert client.call(timelock.functions.hasRole(role_id, local_governor().address))
    # the timelock administers itself: nobody holds its admin role
    assert not client.call(timelock.functions.hasRole(b"\x00" * 32, local_governor().address))
    assert client.call(timelock.functions.hasRole(b"\x00" * 32, timelock.address))
    token = client.contract("DevToken")
    assert not client.call(token.functions.hasRole(b"\x00" * 32, deployer))
    assert client.call(token.functions.hasRole(b"\x00" * 32, timelock.address))


def test_sponsor_cancels_and_gets_the_budget_back(
    chain, deployed: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from eth_account import Account

    common = _common(chain, deployed)
    sponsor = Account.from_key(dev_private_keys(2)[1]).address
    assert main(["mint", *common, "--dev-account", "0", "--to", sponsor, "--amount", "500"]) == 0
    argv = ["task", "create", *common, "--dev-account", "1", "--config", "tiny",
            "--store", f"file://{tmp_path}", "--aggregator", "0x" + "22" * 20]  # fmt: skip
    assert main(argv) == 0
    task_id = capsys.readouterr().out.strip().splitlines()[-1]
    # only the sponsor may cancel; only the arbiter may resolve
    assert main(["task", "cancel", *common, "--dev-account", "4", "--task", task_id]) == 2
    assert "NotSponsor" in capsys.readouterr().err
    resolve = [
        "resolve",
        *common,
        "--dev-account",
        "4",
        "--task",
        task_id,
        "--round",
        "1",
        "--void-post",
    ]
    assert main(resolve) == 2
    assert "NotArbiter" in capsys.readouterr().err
    assert main(["task", "cancel", *common, "--dev-account", "1", "--task", task_id]) == 0
    out = capsys.readouterr().out
    assert f"task {task_id} cancelled; 500 base tokens refunded" in out


def test_the_sponsor_allows_clients_of_an_allowlist_task(
    chain, deployed: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from eth_account import Account

    from fl_node.chain.client import ChainClient
    from fl_node.chain.deployments import Deployment
    from fl_node.configs import load_config

    common = _common(chain, deployed)
    sponsor = Account.from_key(dev_private_keys(2)[1]).address
    assert main(["mint", *common, "--dev-account", "0", "--to", sponsor, "--amount", "1000"]) == 0
    tiny = load_config("tiny")
    config = tiny.replace(federation=dataclasses.replace(tiny.federation, allowlist=True))
    path = config.save(tmp_path / "allowlist.yaml")
    store = f"file://{tmp_path / 'store'}"
    argv = ["task", "create", *common, "--dev-account", "1", "--config", str(path),
            "--store", store, "--aggregator", "0x" + "22" * 20]  # fmt: skip
    assert main(argv) == 0
    task_id = capsys.readouterr().out.strip().splitlines()[-1]
    friend = Account.create().address
    allow = ["task", "allow", *common, "--task", task_id, friend]
    assert main([*allow, "--dev-account", "4"]) == 2  # only the sponsor
    assert "NotSponsor" in capsys.readouterr().err
    assert main([*allow, "--dev-account", "1"]) == 0
    assert "1 client(s) may join" in capsys.readouterr().out
    client = ChainClient(chain.rpc_url, Deployment.load(deployed))
    federation = client.contract("Federation")
    assert client.call(federation.functions.isAllowed(int(task_id), friend)) is True
    assert main([*allow, "--dev-account", "1", "--revoke"]) == 0
    assert client.call(federation.functions.isAllowed(int(task_id), friend)) is False
    bad = ["task", "allow", *common, "--dev-account", "1", "--task", task_id, "bob"]
    assert main(bad) == 2
    assert "'bob' is not an address" in capsys.readouterr().err
    open_task = ["task", "allow", *common, "--dev-account", "1", "--task", "1", friend]
    assert main(open_task) == 2
    assert "has no allowlist" in capsys.readouterr().err
