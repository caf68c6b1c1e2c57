"""Which Solidity compiler Brownie and py-solc-x use, and where they find it.

py-solc-x looks for ``$SOLCX_BINARY_PATH/solc-v<version>``. This module makes that path a symlink
to a native solc of the pinned version when one is installed (``~/.solcx`` or ``solc`` on PATH),
and otherwise to the project's ``tools/solc`` shim over solc-js, which needs no download.

    python -m fl_node.toolchain.solc       # link it and print what was linked
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from fl_node.errors import ToolchainError
from fl_node.toolchain.localchain import project_root

SOLC_VERSION = "0.8.37"
_VERSION_RE = re.compile(r"Version:\s*(\d+\.\d+\.\d+)\+commit\.[0-9a-f]+")


def shim_path() -> Path:
    return project_root() / "tools" / "solc"


def solcx_dir() -> Path:
    """Where py-solc-x looks for compilers: ``$SOLCX_BINARY_PATH`` or the project's cache."""
    env = os.environ.get("SOLCX_BINARY_PATH")
    return Path(env) if env else project_root() / ".cache" / "solcx"


def solc_version_of(executable: Path) -> str | None:
    """The version a solc executable reports, or None when it does not answer like solc."""
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE.search(out)
    return match.group(1) if match else None


def _is_shim(path: Path) -> bool:
    try:
        return path.resolve() == shim_path().resolve()
    except OSError:
        return False


def _is_solc_select(path: Path) -> bool:
    """solc-select's ``solc`` launcher (installed with slither-analyzer): not a compiler, and it
    tries to download one on first use, which hangs for about 30 s on an offline machine."""
    try:
        with path.open("rb") as fh:
            return b"solc_select" in fh.read(1024)
    except OSError:
        return False


def find_native_solc(version: str = SOLC_VERSION) -> Path | None:
    """A native solc of exactly ``version`` already on this machine, if any."""
    candidates: list[Path] = [Path.home() / ".solcx" / f"solc-v{version}"]
    on_path = shutil.which("solc")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if not candidate.is_file() or _is_shim(candidate) or candidate.parent == solcx_dir():
            continue
        if _is_solc_select(candidate):
            continue
        if os.access(candidate, os.X_OK) and solc_version_of(candidate) == version:
            return candidate.resolve()
    return None


def ensure_solc(version: str = SOLC_VERSION) -> Path:
    """Link ``solc-v<version>`` in :func:`solcx_dir`, export SOLCX_BINARY_PATH; returns the target.

    A native compiler of the pinned version wins; otherwise the solc-js shim (which needs node
    and the npm package ``solc``, installed by ``make setup``).
    """
    target = find_native_solc(version)
    if target is None:
        shim = shim_path()
        if not shim.is_file():
            raise ToolchainError(f"the solc shim is missing at {shim}")
        if shutil.which("node") is None:
            raise ToolchainError(
                f"no native solc {version} found and Node.js is missing for the solc-js shim: "
                "install node (>= 18) and run `make setup`"
            )
        target = shim
    folder = solcx_dir()
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"solc-v{version}"
    if (link.is_symlink() or link.exists()) and link.resolve() != target.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(target)
    reported = solc_version_of(link)
    if reported != version:
        raise ToolchainError(
            f"{link} -> {target} reports version {reported!r}, expected {version}. If it is the "
            "shim, run `make setup` so the npm package solc is installed."
        )
    os.environ["SOLCX_BINARY_PATH"] = str(folder)
    return target


def main() -> int:
    try:
        target = ensure_solc()
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    kind = "solc-js shim" if _is_shim(target) else "native solc"
    print(f"solc {SOLC_VERSION}: {kind} at {target} (linked in {solcx_dir()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
