"""Deployment files: never replaced silently, history kept, a reset chain named as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.chain.deployments import (
    ContractRecord,
    Deployment,
    check_replaceable,
    history_path,
    publish,
    require_on_chain,
)
from fl_node.cli import main
from fl_node.errors import ConfigError
from fl_node.toolchain.localchain import LocalChain, rpc_call

FED = "0x" + "ab" * 20


def _deployment(block: int, federation: str = FED) -> Deployment:
    return Deployment(
        chain_id=31337,
        block_number=block,
        contracts={"Federation": ContractRecord(federation, [])},
    )


# -- the file rules, without a chain ---------------------------------------------------------------
def test_an_existing_file_is_refused_without_force(tmp_path: Path) -> None:
    path = _deployment(7).save(tmp_path / "31337.json")
    with pytest.raises(ConfigError) as exc:
        check_replaceable(path, force=False)
    message = str(exc.value)
    assert "already holds the deployment of chain 31337" in message
    assert FED in message and "block 7" in message
    assert "pass --force" in message and str(tmp_path / "history") in message
    check_replaceable(path, force=True)  # forced: allowed
    check_replaceable(tmp_path / "absent.json", force=False)  # nothing to replace


def test_publish_keeps_the_replaced_file_in_history(tmp_path: Path) -> None:
    path = tmp_path / "31337.json"
    assert publish(_deployment(3, "0x" + "01" * 20), path) is None  # first deploy: no history
    first_text = path.read_text()
    kept = publish(_deployment(9, "0x" + "02" * 20), path)
    assert kept is not None and kept.parent == tmp_path / "history"
    assert kept.name.startswith("31337-block3-")
    assert kept.read_text() == first_text  # the old record, untouched
    assert Deployment.load(path).address("Federation") == "0x" + "02" * 20
    again = publish(_deployment(12, "0x" + "03" * 20), path)
    assert again is not None and again != kept and again.name.startswith("31337-block9-")
    assert len(list((tmp_path / "history").iterdir())) == 2


def test_history_names_do_not_collide_within_one_second(tmp_path: Path) -> None:
    path = _deployment(5).save(tmp_path / "31337.json")
    first = history_path(path, now=0)
    first.parent.mkdir()
    first.write_text("{}")
    second = history_path(path, now=0)
    assert second != first and second.name == "31337-block5-19700101T000000Z-2.json"


def test_a_deployment_without_code_is_a_reset_chain() -> None:
    deployment = _deployment(1)
    deployment.contracts["StakeVault"] = ContractRecord("0x" + "cd" * 20, [])
    asked: list[str] = []

    def no_code(address: str) -> bytes:
        asked.append(address)
        return b""

    with pytest.raises(ConfigError) as exc:
        require_on_chain(deployment, "deployments/31337.json", no_code)
    assert str(exc.value).startswith(
        f"the deployment in deployments/31337.json is not on this chain (no code at {FED}): "
        "the chain was reset; deploy again"
    )
    assert asked == [FED]  # the Federation is the one checked
    require_on_chain(deployment, "x.json", lambda _address: b"\x60\x80")
    with pytest.raises(ConfigError, match="lists no contracts"):
        require_on_chain(Deployment(chain_id=1), "empty.json", lambda _a: b"")


# -- the reported problem, through the command line ------------------------------------------------
@pytest.fixture(scope="module")
def chain():  # type: ignore[no-untyped-def]
    with LocalChain(accounts=4) as running:
        yield running


def _block(chain: LocalChain) -> int:
    return int(rpc_call(chain.rpc_url, "eth_blockNumber"), 16)


def test_a_second_deploy_is_refused_and_a_forced_one_keeps_the_first(
    chain: LocalChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deployments" / "31337.json"
    common = ["--rpc", chain.rpc_url, "--dev-account", "0"]
    assert main(["deploy", *common, "--out", str(out)]) == 0
    first = json.loads(out.read_text())
    sponsor = ["--rpc", chain.rpc_url, "--deployment", str(out)]
    assert main(["mint", *sponsor, "--dev-account", "0", "--to", "0x" + "11" * 20,
                 "--amount", "5"]) == 0  # fmt: skip
    capsys.readouterr()

    before = _block(chain)
    assert main(["deploy", *common, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out} already holds the deployment of chain 31337" in err
    assert "pass --force" in err
    assert _block(chain) == before  # refused before any transaction
    assert json.loads(out.read_text()) == first

    assert main(["deploy", *common, "--out", str(out), "--force"]) == 0
    said = capsys.readouterr().out
    kept = list((out.parent / "history").glob("31337-block*.json"))
    assert len(kept) == 1 and f"moved to {kept[0]}" in said
    assert json.loads(kept[0].read_text()) == first
    assert (
        json.loads(out.read_text())["contracts"]["Federation"]["address"]
        != (first["contracts"]["Federation"]["address"])
    )
    # the first suite is still reachable through its kept file
    assert main(["mint", "--rpc", chain.rpc_url, "--deployment", str(kept[0]), "--dev-account",
                 "0", "--to", "0x" + "11" * 20, "--amount", "5"]) == 0  # fmt: skip
    assert "now holds 10" in capsys.readouterr().out


def test_a_restarted_chain_is_named_not_a_traceback(
    chain: LocalChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "31337.json"
    assert main(["deploy", "--rpc", chain.rpc_url, "--dev-account", "0", "--out", str(out)]) == 0
    federation = Deployment.load(out).address("Federation")
    capsys.readouterr()
    with LocalChain(accounts=4) as fresh:  # the same chain id, without the state
        for argv in (
            ["task", "show", "--task", "1"],
            ["stake", "show", "--dev-account", "2"],
            ["account", "balance", "--dev-account", "2"],
        ):
            assert main([*argv, "--rpc", fresh.rpc_url, "--deployment", str(out)]) == 2, argv
            err = capsys.readouterr().err
            assert err.startswith(
                f"error: the deployment in {out} is not on this chain (no code at {federation}): "
                "the chain was reset; deploy again"
            ), err
