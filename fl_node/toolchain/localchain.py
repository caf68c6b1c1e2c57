"""A local development chain (Anvil) owned by this process.

The process that starts the chain owns it: it picks a free port, waits until the RPC answers, and
stops the chain by its own process id on exit, on error and on interruption. The child also gets
a parent-death signal (Linux), so even a SIGKILL of the owner leaves no stray chain behind.

    with LocalChain() as chain:
        print(chain.rpc_url)      # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fl_node.errors import ChainError, ToolchainError

#: The mnemonic Anvil and Ganache use for their default dev accounts (public knowledge: never
#: hold real value on these keys).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 31337

_PR_SET_PDEATHSIG = 1


def project_root() -> Path:
    """The repository root: the folder holding ``brownie-config.yaml`` above this package."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "brownie-config.yaml").exists():
            return parent
    return Path.cwd()


def _node_modules_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("FL_NODE_MODULES")
    if env:
        dirs.append(Path(env))
    dirs += [project_root() / "node_modules", Path.cwd() / "node_modules"]
    return dirs


def find_anvil() -> Path:
    """The real Anvil executable (not npm's node wrapper, whose PID is not Anvil's).

    Order: ``$FL_ANVIL_BIN``, the project's ``node_modules/@foundry-rs/anvil-<platform>``,
    then ``anvil`` on PATH.
    """
    env = os.environ.get("FL_ANVIL_BIN")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToolchainError(f"FL_ANVIL_BIN={env} is not an executable file")
        return path
    for modules in _node_modules_dirs():
        for candidate in sorted(modules.glob("@foundry-rs/anvil-*/bin/anvil")):
            if os.access(candidate, os.X_OK):
                return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ToolchainError(
        "Anvil was not found. Run `make setup` in the project folder (it installs "
        "@foundry-rs/anvil from npm into node_modules), or set FL_ANVIL_BIN to an anvil binary."
    )


#: Where free_port looks first: below the range the OS draws ephemeral ports from (32768 and up
#: on Linux), so that no outgoing connection and no bind to port 0 by another program takes a port
#: between the moment it is handed out and the moment its server binds it.
_LISTEN_PORTS = range(20000, 32768)
_handed_out: set[int] = set()


def _ephemeral_ports() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now and that this process has not handed out before.

    It is drawn from outside the OS's ephemeral range when it can (which the OS would give to any
    outgoing connection or bind to port 0 in the meantime); the OS picks one otherwise."""
    ephemeral = _ephemeral_ports()
    candidates = [p for p in _LISTEN_PORTS if p not in ephemeral and p not in _handed_out]
    rng = random.Random(os.urandom(8))  # not a run's seed: ports are no part of a run's result
    for port in rng.sample(candidates, min(64, len(candidates))):
        if not port_in_use(port, host):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """One JSON-RPC call with plain urllib (no web3 needed); raises ChainError on failure."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ChainError(f"the RPC at {url} does not answer ({exc})") from exc
    if "error" in reply:
        raise ChainError(f"the RPC at {url} refused {method}: {reply['error'].get('message')}")
    return reply.get("result")


def _set_parent_death_signal() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class LocalChain:
    """A local chain process owned by this program.

    Args:
        port: the port to listen on; ``None`` picks a free one.
        state_path: a file to load the chain state from if it exists and to save it to on stop,
            so a finished run can be reopened later (Anvil only).
        block_time: seconds per block (Anvil mines on every transaction when ``None``).
        state_interval: seconds between saves of the state while running (it is saved on stop).
    """

    port: int | None = None
    host: str = "127.0.0.1"
    chain_id: int = DEV_CHAIN_ID
    accounts: int = 10
    balance_eth: int = 10_000
    gas_limit: int = 30_000_000
    state_path: Path | None = None
    block_time: float | None = None
    #: Seconds between two saves of the state while the chain runs (with ``state_path``).
    state_interval: int = 60
    startup_timeout: float = 20.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: Any = field(default=None, init=False, repr=False)
    #: Anvil's home while it runs: it spills historical states to ``~/.foundry/anvil/tmp`` and
    #: never deletes them (gigabytes after a long run), so each chain gets a home of its own,
    #: removed when the chain stops.
    _home: str | None = field(default=None, init=False, repr=False)

    @property
    def rpc_url(self) -> str:
        if self.port is None:
            raise ChainError("the local chain has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self, port: int) -> list[str]:
        cmd = [
            str(find_anvil()),
            "--host", self.host,
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_eth),
            "--gas-limit", str(self.gas_limit),
            "--block-base-fee-per-gas", "0",
            "--mnemonic", DEV_MNEMONIC,
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_path is not None:
            # Historical states too, so an audit of a reopened run can read the chain as it was
            # when each round was posted; saved on stop, and every ``state_interval`` seconds in
            # case of a crash (a dump holds every historical state: over a gigabyte after a few
            # rounds at 128 clients, and the RPC waits while it is written).
            cmd += ["--state", str(self.state_path), "--preserve-historical-states"]
            cmd += ["--state-interval", str(self.state_interval)]
        return cmd

    def start(self) -> LocalChain:
        """Start the chain and wait until its RPC answers; raises a clear error otherwise."""
        if self.is_running():
            return self
        if self.port is not None and port_in_use(self.port, self.host):
            raise ToolchainError(
                f"port {self.port} on {self.host} is already in use by another process (another "
                "chain?): stop it or pick another --port"
            )
        explicit_port = self.port is not None
        for _attempt in range(3):
            port = self.port if explicit_port else free_port(self.host)
            assert port is not None
            self._spawn(port)
            if self._wait_ready(port):
                self.port = port
                atexit.register(self.stop)
                return self
            log = self._log_tail()
            self.stop()
            if explicit_port or "in use" not in log.lower():
                raise ToolchainError(
                    f"the local Anvil chain did not answer on port {port} within "
                    f"{self.startup_timeout:.0f} s. Its output:\n{log or '(nothing)'}"
                )
        raise ToolchainError("could not find a free port for the local chain after 3 attempts")

    def _spawn(self, port: int) -> None:
        cmd = self.command(port)
        # Kept open for the chain's whole life and closed by stop(), so no context manager.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._home = tempfile.mkdtemp(prefix="fl-node-anvil-")
        try:
            self.process = subprocess.Popen(
                cmd,
                env={**os.environ, "HOME": self._home},
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=_set_parent_death_signal,  # safe: no threads at start-up
                start_new_session=True,
            )
        except OSError as exc:
            raise ToolchainError(f"cannot start {cmd[0]}: {exc}") from exc

    def _wait_ready(self, port: int) -> bool:
        url = f"http://{self.host}:{port}"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                rpc_call(url, "eth_chainId", timeout=1.0)
                return True
            except ChainError:
                time.sleep(0.05)
        return False

    def _log_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return ""
        try:
            self._log.seek(0)
            return self._log.read().decode(errors="replace")[-limit:].strip()
        except (OSError, ValueError):
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the chain by its PID: SIGTERM (Anvil saves its state), then SIGKILL if needed."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> LocalChain:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dev_private_keys(count: int, mnemonic: str = DEV_MNEMONIC) -> list[str]:
    """The first ``count`` private keys of the dev mnemonic (the accounts Anvil funds)."""
    return [dev_private_key(index, mnemonic) for index in range(count)]


def dev_private_key(index: int, mnemonic: str = DEV_MNEMONIC) -> str:
    """Private key ``index`` of the dev mnemonic (Anvil funds the first ones only)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()
