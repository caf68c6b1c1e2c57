"""The solc-js shim behaves like native solc for py-solc-x and Brownie."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import solcx
from solcx.exceptions import SolcError

from fl_node.toolchain import solc as solc_mod
from fl_node.toolchain.localchain import project_root

SHIM = project_root() / "tools" / "solc"
OZ_TOKEN = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
contract T is ERC20, ERC20Permit { constructor() ERC20("T", "T") ERC20Permit("T") {} }
"""


def standard_input(sources: dict[str, str], remap: bool = True) -> dict:
    settings: dict = {
        "evmVersion": "cancun",
        "optimizer": {"enabled": True, "runs": 200},
        "outputSelection": {
            "*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}
        },
    }
    if remap:
        settings["remappings"] = ["@openzeppelin=node_modules/@openzeppelin"]
    return {
        "language": "Solidity",
        "sources": {k: {"content": v} for k, v in sources.items()},
        "settings": settings,
    }


def run_shim(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SHIM), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or project_root(),
        timeout=120,
        check=False,
    )


def test_version_is_in_native_form():
    out = run_shim("--version")
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0] == "solc, the solidity compiler commandline interface"
    assert lines[1].startswith("Version: 0.8.37+commit.") and lines[1].endswith(".Linux.g++")
    assert str(solcx.wrapper.get_solc_version(SHIM)) == "0.8.37"


def test_compiles_openzeppelin_imports_and_large_output_arrives_whole():
    out = run_shim(
        "--standard-json",
        "--allow-paths",
        ".",
        stdin=json.dumps(standard_input({"T.sol": OZ_TOKEN})),
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout) > 64 * 1024  # past the pipe size where an early exit truncates
    result = json.loads(out.stdout)
    assert not [e for e in result.get("errors", []) if e["severity"] == "error"]
    bytecode = result["contracts"]["T.sol"]["T"]["evm"]["bytecode"]["object"]
    assert len(bytecode) > 1000


def test_py_solc_x_compiles_through_the_shim():
    result = solcx.compile_standard(
        standard_input({"T.sol": OZ_TOKEN}), allow_paths=".", solc_binary=SHIM
    )
    assert "T" in result["contracts"]["T.sol"]


def test_compiler_errors_are_reported_as_errors():
    broken = (
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\ncontract B { uint x = ; }\n"
    )
    out = run_shim("--standard-json", stdin=json.dumps(standard_input({"B.sol": broken})))
    errors = json.loads(out.stdout)["errors"]
    assert any(e["severity"] == "error" and e["type"] == "ParserError" for e in errors)
    with pytest.raises(SolcError, match="ParserError"):
        solcx.compile_standard(standard_input({"B.sol": broken}), solc_binary=SHIM)


def test_imports_resolve_through_base_and_include_paths(tmp_path: Path):
    (tmp_path / "lib" / "dep").mkdir(parents=True)
    (tmp_path / "lib" / "dep" / "L.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\nlibrary L { function one() "
        "internal pure returns (uint) { return 1; } }\n"
    )
    main = (
        '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\nimport "dep/L.sol";\n'
        "contract M { function f() external pure returns (uint) { return L.one(); } }\n"
    )
    payload = json.dumps(standard_input({"M.sol": main}, remap=False))
    missing = run_shim("--standard-json", "--base-path", str(tmp_path), stdin=payload, cwd=tmp_path)
    assert any(
        "not found" in e["message"].lower() or "File not found" in e["formattedMessage"]
        for e in json.loads(missing.stdout)["errors"]
    )
    found = run_shim(
        "--standard-json",
        "--base-path",
        str(tmp_path),
        "--include-path",
        "lib",
        stdin=payload,
        cwd=tmp_path,
    )
    result = json.loads(found.stdout)
    assert "M" in result["contracts"]["M.sol"], result.get("errors")


def test_files_outside_the_allowed_paths_are_not_read(tmp_path: Path):
    secret_dir = tmp_path / "outside"
    secret_dir.mkdir()
    (secret_dir / "S.sol").write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n")
    work = tmp_path / "work"
    work.mkdir()
    src = (
        f'// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\nimport "{secret_dir}/S.sol";\n'
    )
    out = run_shim(
        "--standard-json", stdin=json.dumps(standard_input({"A.sol": src}, False)), cwd=work
    )
    assert any(e["severity"] == "error" for e in json.loads(out.stdout)["errors"])


def test_unsupported_usage_fails_with_a_message():
    out = run_shim("--bin", "x.sol")
    assert out.returncode == 1
    assert "unsupported option --bin" in out.stderr
    out = run_shim("x.sol")
    assert out.returncode == 1 and "--standard-json" in out.stderr


def _fake_solc(path: Path, version_line: str) -> Path:
    path.write_text(
        "#!/bin/sh\necho 'solc, the solidity compiler commandline interface'\n"
        f"echo '{version_line}'\n"
    )
    path.chmod(0o755)
    return path


def test_a_native_solc_of_the_pinned_version_is_preferred(tmp_path: Path, monkeypatch):
    home = tmp_path / "home"
    (home / ".solcx").mkdir(parents=True)
    native = _fake_solc(
        home / ".solcx" / "solc-v0.8.37", "Version: 0.8.37+commit.f401782d.Linux.g++"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path / "solcx"))
    monkeypatch.setenv("PATH", os.environ["PATH"])
    assert solc_mod.ensure_solc() == native.resolve()
    assert (tmp_path / "solcx" / "solc-v0.8.37").resolve() == native.resolve()


def test_a_native_solc_of_another_version_is_ignored(tmp_path: Path, monkeypatch):
    home = tmp_path / "home"
    (home / ".solcx").mkdir(parents=True)
    _fake_solc(home / ".solcx" / "solc-v0.8.37", "Version: 0.8.20+commit.a1b79de6.Linux.g++")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path / "solcx"))
    assert solc_mod.ensure_solc() == SHIM.resolve()
