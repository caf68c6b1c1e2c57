"""Running the README's shell blocks as written: the block of a section, free ports substituted
for the ones it names, run with bash in an empty folder; and the checks of what its last commands
(`fl-node task show`, `fl-node audit`) print about a finished task."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fl_node.toolchain.localchain import free_port as free_port  # the tests' one port picker

ROOT = Path(__file__).resolve().parents[1]


def readme_block(section: str, nth: int = 0) -> str:
    """The ``nth`` ``sh`` block (from 0) after the heading ``section`` of README.md."""
    text = (ROOT / "README.md").read_text()
    start = text.index(section)
    blocks = re.compile(r"```sh\n(.*?)```", re.S).finditer(text, start)
    for _ in range(nth):
        next(blocks, None)
    match = next(blocks, None)
    assert match, f"no sh block {nth} under {section!r}"
    return match.group(1)


def substitute(script: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in script, f"the README's block no longer contains {old!r}"
        script = script.replace(old, new)
    return script


def run_block(script: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``script`` with bash in ``cwd`` (no standard input, its own session); its exit code
    and everything it printed (also kept in ``cwd/script.log``)."""
    with open(cwd / "script.log", "wb") as out:
        run = subprocess.run(
            ["bash", "-c", script],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            start_new_session=True,
        )
    return run.returncode, (cwd / "script.log").read_text()


def assert_settled_and_audited(output: str, rounds: int, clients: int) -> None:
    """`task show`: task 1 completed, every round finalized with every client's commit and
    reveal, every reward and stake payout claimed; `audit`: nothing wrong, nothing missing."""
    assert "task 1: completed" in output, output[-3000:]
    found = re.findall(r"round (\d+): finalized\s+commits (\d+)\s+reveals (\d+)", output)
    assert [int(r[0]) for r in found] == list(range(1, rounds + 1)), output[-3000:]
    assert all(int(c) == int(r) == clients for _, c, r in found), found
    claims = re.findall(r"claimed: rewards (\S+) of (\S+), stake payouts (\S+) of (\S+)", output)
    assert len(claims) == rounds, output[-3000:]
    for paid, total, paid_out, total_out in claims:
        assert float(total) > 0 and paid == total, claims
        assert paid_out == total_out, claims
    assert re.search(r"\d+ checks: 0 posted number\(s\) wrong, 0 evidence item\(s\)", output)
