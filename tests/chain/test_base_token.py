"""``fl-node deploy --base-token``: only a working ERC-20 with sane decimals is accepted, and a
refusal comes before any transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from hexbytes import HexBytes

from fl_node.chain.client import ChainClient
from fl_node.chain.deploy import load_artifact
from fl_node.chain.deployments import Deployment
from fl_node.chain.keys import account_from_key
from fl_node.cli import main
from fl_node.toolchain.localchain import LocalChain, dev_private_keys, project_root


@pytest.fixture(scope="module")
def chain():  # type: ignore[no-untyped-def]
    with LocalChain(accounts=3) as running:
        yield running


def _deploy(chain: LocalChain, name: str, *args: object) -> str:
    art = load_artifact(project_root() / "build", name)
    client = ChainClient(chain.rpc_url)
    owner = account_from_key(dev_private_keys(1)[0])
    factory = client.w3.eth.contract(abi=art["abi"], bytecode=HexBytes(art["bytecode"]))
    result = client.send(factory.constructor(*args), owner, label=f"{name}.deploy")
    return str(result.receipt["contractAddress"])


def _token(chain: LocalChain, decimals: int) -> str:
    me = account_from_key(dev_private_keys(1)[0]).address
    return _deploy(chain, "DevToken", "Test USD", "tUSD", decimals, me, me)


def _deploy_with(chain: LocalChain, base: str, out: Path) -> list[str]:
    return ["deploy", "--rpc", chain.rpc_url, "--dev-account", "0", "--base-token", base,
            "--out", str(out)]  # fmt: skip


def _block(chain: LocalChain) -> int:
    return ChainClient(chain.rpc_url).block_number()


def test_an_account_address_is_refused(chain: LocalChain, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    eoa = account_from_key(dev_private_keys(2)[1]).address
    before = _block(chain)
    assert main(_deploy_with(chain, eoa, tmp_path / "d.json")) == 2
    err = capsys.readouterr().err
    assert f"the base token {eoa} has no contract code on chain 31337" in err
    assert "an account address was given?" in err
    assert _block(chain) == before and not (tmp_path / "d.json").exists()


def test_a_contract_that_is_not_an_erc20_is_refused(
    chain: LocalChain, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    zero = "0x" + "00" * 20
    timelock = _deploy(chain, "Timelock", 60, [zero], [zero])  # code, but no ERC-20 views
    before = _block(chain)
    assert main(_deploy_with(chain, timelock, tmp_path / "d.json")) == 2
    err = capsys.readouterr().err
    assert "does not answer the ERC-20 views (decimals, totalSupply, balanceOf)" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _block(chain) == before


def test_absurd_decimals_are_refused(chain: LocalChain, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    token = _token(chain, 40)
    assert main(_deploy_with(chain, token, tmp_path / "d.json")) == 2
    assert "reports 40 decimals: expected 0 to 36" in capsys.readouterr().err


def test_a_real_erc20_becomes_the_base_token(chain: LocalChain, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    token = _token(chain, 6)
    out = tmp_path / "d.json"
    assert main(_deploy_with(chain, token, out)) == 0
    assert "an ERC-20 with 6 decimals" in capsys.readouterr().out
    deployment = Deployment.load(out)
    assert deployment.base_token == "BaseToken"
    assert deployment.address("BaseToken") == token
    assert "DevToken" not in deployment.contracts
