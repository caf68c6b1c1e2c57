"""Compile the contracts with Brownie (operator machines only; nodes use the deployment file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from fl_node.errors import ToolchainError
from fl_node.toolchain.localchain import project_root
from fl_node.toolchain.solc import ensure_solc


def brownie_executable() -> Path:
    beside = Path(sys.executable).parent / "brownie"
    if beside.is_file():
        return beside
    found = shutil.which("brownie")
    if found is None:
        raise ToolchainError(
            "Brownie is not installed: compiling and deploying from sources is an operator task "
            "(run `make setup` in the project); participant nodes only need the deployment file"
        )
    return Path(found)


def compile_contracts(root: Path | None = None) -> Path:
    """``brownie compile`` in the project root; returns the build folder. Fast when up to date."""
    root = root or project_root()
    if not (root / "brownie-config.yaml").is_file():
        raise ToolchainError(f"{root} is not the fl-node project (no brownie-config.yaml)")
    ensure_solc()
    env = dict(os.environ)
    proc = subprocess.run(
        [str(brownie_executable()), "compile"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or "CompilerError" in proc.stdout:
        raise ToolchainError(
            "the contracts do not compile:\n" + (proc.stdout + proc.stderr)[-4000:]
        )
    return root / "build"


def main() -> int:
    """``python -m fl_node.toolchain.build``: compile once before test processes start (each
    would otherwise load the project while another writes the build)."""
    try:
        compile_contracts()
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
