"""Brownie runs a script of a project under a folder whose name has a dot (e.g. ``v1.2``)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fl_node.toolchain.brownie_scripts import DottedRootFinder, dotted_folders, install

SCRIPT = """
from dataclasses import dataclass
from pathlib import Path

from .helper import TWO

COUNTER = Path(__file__).with_suffix(".runs")
COUNTER.write_text(str(int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1))


@dataclass
class Answer:
    value: int


def main(x=1):
    return Answer(x * TWO)
"""


@pytest.fixture
def clean_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``/`` on ``sys.path`` as ``brownie run`` puts it; this test's finders and script modules
    taken out of the process afterwards."""
    monkeypatch.syspath_prepend("/")
    finders, modules = list(sys.meta_path), set(sys.modules)
    yield
    sys.meta_path[:] = finders
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def _project(root: Path) -> Path:
    """A project at ``root`` with a script that imports its sibling relative to its package."""
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "helper.py").write_text("TWO = 2\n")
    (scripts / "double.py").write_text(SCRIPT)
    return scripts / "double.py"


def test_a_root_needs_the_finder_only_when_a_folder_has_a_dot() -> None:
    assert dotted_folders(Path("/home/me/v1.2/fl"))
    assert not dotted_folders(Path("/home/me/fl-node"))


def test_brownie_alone_cannot_run_a_script_under_a_dotted_folder(
    tmp_path: Path, clean_imports: None
) -> None:
    from brownie.project import scripts

    with pytest.raises(ModuleNotFoundError, match="release"):
        scripts._import_from_path(_project(tmp_path / "release.1.0"))


def test_brownie_runs_a_script_under_a_dotted_folder_afresh_each_time(
    tmp_path: Path, clean_imports: None
) -> None:
    from brownie.project import scripts

    root = tmp_path / "release.1.0" / "fl"
    script = _project(root)
    assert len(install(root, root)) == 1
    install(root)  # once per root
    assert sum(isinstance(f, DottedRootFinder) for f in sys.meta_path) == 1
    # what `brownie run` and the console's run() call (Brownie's own compiled import)
    answer = scripts._import_from_path(script).main(21)
    assert answer.value == 42
    # the dataclass resolves its module, and the script imported its sibling as Brownie names it
    assert sys.modules[type(answer).__module__].__file__ == str(script)
    scripts._import_from_path(script)
    assert script.with_suffix(".runs").read_text() == "2"  # reloaded, as Brownie reloads


def test_a_root_without_a_dotted_folder_is_left_to_python(
    tmp_path: Path, clean_imports: None
) -> None:
    assert install(tmp_path / "plain") == []
    assert not any(isinstance(f, DottedRootFinder) for f in sys.meta_path)


def test_the_finder_answers_only_the_steps_to_its_root(tmp_path: Path, clean_imports: None) -> None:
    root = tmp_path / "a.b"
    _project(root)
    finder = DottedRootFinder(root.absolute())
    name = finder.name
    assert finder.find_spec(name) is not None
    assert finder.find_spec(name.rsplit(".", 1)[0]) is not None  # a step to the root
    assert finder.find_spec(name + "x") is None
    assert finder.find_spec("json") is None
    install(root)
    assert importlib.import_module(f"{name}.scripts.helper").TWO == 2
