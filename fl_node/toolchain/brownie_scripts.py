"""Brownie's scripts, importable from a project whose path has a dot in a folder name.

Brownie 1.22.2 imports a script by its absolute path joined with dots
(``brownie/project/scripts.py::_import_from_path``, with ``/`` on ``sys.path``):
``/home/me/v1.2/fl/scripts/deploy.py`` becomes the module ``home.me.v1.2.fl.scripts.deploy``, so
Python looks for a folder ``/home/me/v1`` and ``brownie run`` and the console's ``run("deploy")``
fail with ``No module named 'home.me.v1'``.

:func:`install` puts a finder first on ``sys.meta_path`` that knows the project root's dotted
name: it answers that name and each name leading to it with an empty package, the root's own
name with a package whose folder is the root. Python's own machinery then finds
``<root>.scripts.deploy`` in the root's ``scripts`` folder, reloads it as Brownie asks, and scripts
keep importing each other as before. Brownie itself is compiled (mypyc), so its functions are not
patched: the import system is. Nothing changes for a root without such a folder.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType


def dotted_folders(root: Path) -> bool:
    """Whether a folder of ``root`` (a project's folder) has a dot in its name."""
    return any("." in part for part in root.parts[1:])


class DottedRootFinder:
    """Finds the packages Brownie's dotted import of the scripts under ``root`` goes through."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = ".".join(root.parts[1:])

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == self.name:
            spec = ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(self.root)]
            return spec
        if self.name.startswith(fullname + "."):
            spec = ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = []  # a step of the dotted name, no folder
            return spec
        return None


def install(*roots: Path) -> list[DottedRootFinder]:
    """Let Brownie import the scripts under each of ``roots`` that has a dotted folder (once per
    root and process); the finders now in place for them."""
    finders = []
    for root in dict.fromkeys(Path(r).absolute() for r in roots):
        if not dotted_folders(root):
            continue
        finder = next(
            (f for f in sys.meta_path if isinstance(f, DottedRootFinder) and f.root == root),
            None,
        )
        if finder is None:
            finder = DottedRootFinder(root)
            sys.meta_path.insert(0, finder)
        finders.append(finder)
    return finders
