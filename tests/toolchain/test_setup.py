"""The set-up script: quick and silent when all is installed, clear when a tool is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fl_node.toolchain.localchain import project_root

SETUP = project_root() / "tools" / "setup.sh"


def test_a_second_run_installs_nothing_and_is_quick():
    started = time.monotonic()
    out = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert "installing" not in out.stdout
    assert elapsed < 10, f"set-up took {elapsed:.1f} s with nothing to install"


def _path_without_node(tmp_path: Path) -> str:
    """A PATH with python and the coreutils the script uses, but no node or npm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in (
        "bash",
        "cat",
        "sha256sum",
        "cut",
        "ls",
        "head",
        "readlink",
        "ln",
        "dirname",
        "grep",
        "sed",
    ):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    # the real interpreter behind this virtualenv (version managers' shims need their own PATH)
    (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    return str(bin_dir)


def test_missing_node_is_a_clear_error(tmp_path: Path):
    env = dict(os.environ, PATH=_path_without_node(tmp_path))
    out = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 1
    assert "Node.js is required" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_unsupported_python_is_a_clear_error(tmp_path: Path):
    fake = tmp_path / "python-old"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake), PATH=_path_without_node(tmp_path))
    os.remove(Path(env["PATH"]) / "python3")
    out = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 1
    assert "Python 3.11 or 3.12 is required" in out.stderr
