"""Flower's transport as the README secures it: TLS with the federation's own CA, and SuperNode
authentication. The credentials are made by the README's own lines; then a SuperLink started with
the README's flags refuses a SuperNode whose key was never registered and a SuperNode that dials
without TLS, and admits the same SuperNode once its key is registered. (The README's whole
block, a settled run with registered keys, runs in ``test_readme_flower.py``.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("flwr")

from tests.readme_blocks import free_port, readme_block, run_block

SECTION = "## Flower apps earn tokens"
#: The SuperLink's access log line of a SuperNode it admitted.
ACTIVATED = '"POST /v1/fleet/activate-node HTTP/1.1" 200'
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(
    not (BIN / "flower-superlink").exists() or shutil.which("openssl") is None,
    reason="Flower's deployment engine or openssl is not installed",
)


def credential_lines() -> str:
    """The README block's lines from the CA's certificate to the SuperNodes' key pairs."""
    lines = readme_block(SECTION).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("openssl req -x509"))
    last = next(i for i, line in enumerate(lines) if "ssh-keygen" in line)
    rogue = "ssh-keygen -q -t ecdsa -b 384 -N '' -f rogue.key"
    return "\n".join([*lines[first : last + 1], rogue, ""])


def superlink_flags() -> list[str]:
    """The README's SuperLink command, without its port and redirection."""
    block = readme_block(SECTION).replace("\\\n", " ")
    line = next(line for line in block.splitlines() if line.startswith("flower-superlink"))
    words = line.split(">")[0].split()
    port = words.index("--port")
    return words[1:port] + words[port + 2 :]


def wait_for_https(log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and "Uvicorn running on https://" in log.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"the SuperLink did not start with TLS:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End ``process`` and everything it started (its own session)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def until_logged(
    command: list[str],
    marker: str,
    cwd: Path,
    env: dict[str, str],
    watch: Path | None = None,
    timeout: float = 90.0,
) -> str:
    """Run ``command`` until ``marker`` shows in its output (or in the ``watch`` log), then stop
    it; its output."""
    log = cwd / f"{Path(command[0]).name}-{time.monotonic_ns()}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    watched = watch or log
    try:
        deadline = time.monotonic() + timeout
        while marker not in watched.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(process)
    assert marker in watched.read_text(), log.read_text()[-2000:]
    return log.read_text()


@pytest.mark.timeout(240)
def test_superlink_refuses_unregistered_and_plaintext_supernodes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FL_NODE_", "FLWR_"))}
    env.update(FLWR_TELEMETRY_ENABLED="0", FLWR_HOME=str(tmp_path / "flwr-home"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    code, output = run_block(credential_lines(), tmp_path, env, 60)
    assert code == 0, output
    for name in ("ca.crt", "server.pem", "server.key", "node-0.key", "node-0.key.pub"):
        assert (tmp_path / name).stat().st_size > 0, name

    port = free_port()
    link_log = tmp_path / "superlink.log"
    with open(link_log, "wb") as out:
        link = subprocess.Popen(
            [str(BIN / "flower-superlink"), *superlink_flags(), "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_https(link_log)
        address = f"127.0.0.1:{port}"
        node = [str(BIN / "flower-supernode"), "--superlink", address]
        rogue = until_logged(
            [
                *node,
                "--root-certificates",
                "ca.crt",
                "--auth-supernode-private-key",
                "rogue.key",
                "--port",
                str(free_port()),
            ],
            "Failed to activate SuperNode",
            tmp_path,
            env,
        )
        plain = until_logged(
            [*node, "--insecure", "--port", str(free_port())],
            "Connection attempt failed",
            tmp_path,
            env,
        )
        # Neither got in; the SuperLink said why for the rogue one.
        assert ACTIVATED not in link_log.read_text(), rogue + plain
        assert "No SuperNode found with the given public key" in link_log.read_text()

        # The control: the same SuperNode with a registered key is admitted.
        home = tmp_path / "flwr-home"
        home.mkdir(exist_ok=True)
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = "{address}"\n'
            f'root-certificates = "{tmp_path / "ca.crt"}"\n'
        )
        register = subprocess.run(
            [str(BIN / "flwr"), "supernode", "register", "node-0.key.pub", "local"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert register.returncode == 0, register.stdout + register.stderr
        until_logged(
            [
                *node,
                "--root-certificates",
                "ca.crt",
                "--auth-supernode-private-key",
                "node-0.key",
                "--port",
                str(free_port()),
            ],
            ACTIVATED,
            tmp_path,
            env,
            watch=link_log,
        )
    finally:
        stop(link)
