"""The local chain is owned by the process that starts it: free port, readiness, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fl_node.errors import ChainError, ToolchainError
from fl_node.toolchain import localchain
from fl_node.toolchain.localchain import (
    DEV_CHAIN_ID,
    LocalChain,
    dev_private_keys,
    free_port,
    port_in_use,
    rpc_call,
)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_dead(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_free_ports_are_never_handed_out_twice_and_stay_out_of_the_ephemeral_range():
    """A port the OS could give to an outgoing connection or another program's bind to port 0
    between its choice and its server's bind is not free for long: free_port avoids that range,
    skips ports in use, and never repeats itself."""
    ephemeral = localchain._ephemeral_ports()
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    assert not any(port in ephemeral for port in ports)
    assert not any(port_in_use(port) for port in ports)
    with socket.socket() as held:
        held.bind(("127.0.0.1", ports[0]))
        assert port_in_use(ports[0])
        localchain._handed_out.discard(ports[0])
        assert ports[0] not in [free_port() for _ in range(50)]


def test_free_port_falls_back_to_the_os_when_every_candidate_is_taken(monkeypatch):
    monkeypatch.setattr(localchain, "_LISTEN_PORTS", range(0))
    port = free_port()
    assert port > 0 and not port_in_use(port)


def test_starts_on_a_free_port_answers_and_stops_by_pid():
    with LocalChain() as chain:
        pid = chain.pid
        assert pid is not None and pid_alive(pid)
        assert int(rpc_call(chain.rpc_url, "eth_chainId"), 16) == DEV_CHAIN_ID
        accounts = rpc_call(chain.rpc_url, "eth_accounts")
        assert len(accounts) == 10
    assert wait_dead(pid)
    with pytest.raises(ChainError, match="does not answer"):
        rpc_call(chain.rpc_url, "eth_chainId", timeout=0.5)


def test_anvil_spills_its_states_into_a_home_of_its_own_removed_on_stop():
    """Anvil writes historical states beyond its memory cache to ``$HOME/.foundry/anvil/tmp`` and
    never deletes them; each chain runs with its own home, gone once the chain stops."""
    chain = LocalChain(accounts=2).start()
    try:
        home = chain._home
        assert home is not None and Path(home).is_dir()
        environ = Path(f"/proc/{chain.pid}/environ")
        if environ.exists():
            assert f"HOME={home}".encode() in environ.read_bytes().split(b"\0")
    finally:
        chain.stop()
    assert not Path(home).exists()
    assert chain._home is None


def test_two_chains_get_different_ports():
    with LocalChain() as a, LocalChain() as b:
        assert a.port != b.port
        assert rpc_call(a.rpc_url, "eth_blockNumber") == rpc_call(b.rpc_url, "eth_blockNumber")


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with pytest.raises(ToolchainError, match=f"port {port} .* already in use"):
            LocalChain(port=port).start()


def test_a_missing_anvil_binary_is_a_clear_error(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("FL_ANVIL_BIN", str(tmp_path / "nope"))
    with pytest.raises(ToolchainError, match=r"FL_ANVIL_BIN=.* is not an executable"):
        LocalChain().start()


def test_a_chain_that_dies_at_start_reports_its_output(monkeypatch, tmp_path: Path):
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\necho 'boom: cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("FL_ANVIL_BIN", str(fake))
    with pytest.raises(ToolchainError, match="boom: cannot start"):
        LocalChain(startup_timeout=3).start()


def test_state_survives_a_restart(tmp_path: Path):
    state = tmp_path / "chain-state.json"
    target = "0x000000000000000000000000000000000000bEEF"
    with LocalChain(state_path=state) as chain:
        rpc_call(chain.rpc_url, "anvil_setBalance", [target, hex(12345)])
        rpc_call(chain.rpc_url, "evm_mine")
        height = int(rpc_call(chain.rpc_url, "eth_blockNumber"), 16)
    assert state.is_file()
    with LocalChain(state_path=state) as chain:
        assert int(rpc_call(chain.rpc_url, "eth_getBalance", [target, "latest"]), 16) == 12345
        assert int(rpc_call(chain.rpc_url, "eth_blockNumber"), 16) >= height


def test_state_is_saved_while_running_every_state_interval(tmp_path: Path):
    """A crash loses at most ``state_interval`` seconds of the chain."""
    state = tmp_path / "chain-state.json"
    with LocalChain(state_path=state, state_interval=1) as chain:
        assert (
            "--state-interval" in (cmd := chain.command(1))
            and cmd[cmd.index("--state-interval") + 1] == "1"
        )
        rpc_call(chain.rpc_url, "evm_mine")
        deadline = time.monotonic() + 10
        while not state.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state.is_file() and chain.is_running()
    assert LocalChain(state_path=state).state_interval == 60


def test_no_stray_chain_when_the_owner_is_killed(tmp_path: Path):
    script = textwrap.dedent(
        """
        import sys, time
        from fl_node.toolchain.localchain import LocalChain
        chain = LocalChain().start()
        print(chain.pid, flush=True)
        time.sleep(60)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    anvil_pid = int(owner.stdout.readline())
    assert pid_alive(anvil_pid)
    owner.send_signal(signal.SIGKILL)  # no cleanup code runs in the owner
    owner.wait(timeout=10)
    assert wait_dead(anvil_pid), "anvil outlived its owner"


def test_dev_keys_are_anvils_funded_accounts():
    keys = dev_private_keys(2)
    from eth_account import Account

    with LocalChain(accounts=2) as chain:
        accounts = [a.lower() for a in rpc_call(chain.rpc_url, "eth_accounts")]
    assert [Account.from_key(k).address.lower() for k in keys] == accounts
