"""Child processes of a local federation: started, watched, killed and restarted by name.

Every child runs ``python -m fl_node <command> ...`` with its output in its own log file, dies
with its parent (PR_SET_PDEATHSIG), and is stopped by its PID. Torch is held to one thread per
process so that nine processes share two cores without thrashing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fl_node.errors import FlNodeError
from fl_node.toolchain.localchain import _set_parent_death_signal


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        env = dict(os.environ)
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fl_node", *self.argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_set_parent_death_signal,
            )
        self.starts += 1

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def send(self, sig: int) -> bool:
        """Send ``sig`` if the child is running; True when it was sent."""
        if self.process is None or self.process.poll() is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        return True

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 10.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class ProcessGroup:
    children: dict[str, Child] = field(default_factory=dict)

    def add(self, name: str, argv: list[str], log_path: Path) -> Child:
        child = Child(name, argv, log_path)
        self.children[name] = child
        return child

    def start_all(self) -> None:
        for child in self.children.values():
            child.start()

    def check(self) -> bool:
        """True when every child has exited successfully; raises when one failed."""
        done = True
        for child in self.children.values():
            code = child.poll()
            if code is None:
                done = False
            elif code != 0:
                raise FlNodeError(
                    f"{child.name} exited with code {code}; the end of {child.log_path}:\n"
                    f"{child.log_tail()}"
                )
        return done

    def stop_all(self) -> None:
        for child in self.children.values():
            child.kill(signal.SIGTERM)
