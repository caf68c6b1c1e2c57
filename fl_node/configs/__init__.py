"""Task configs that ship with the package (``fl-node ... --config demo`` or a path)."""

from __future__ import annotations

from pathlib import Path

from fl_node.config import TaskConfig
from fl_node.errors import ConfigError

HERE = Path(__file__).parent


def bundled() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def load_config(name_or_path: str | Path) -> TaskConfig:
    """A bundled config by name (``demo``) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return TaskConfig.load(path)
    candidate = HERE / f"{name_or_path}.yaml"
    if candidate.is_file():
        return TaskConfig.load(candidate, source=f"config {name_or_path}")
    raise ConfigError(
        f"no config file {str(name_or_path)!r}; give a YAML path or one of: {', '.join(bundled())}"
    )
