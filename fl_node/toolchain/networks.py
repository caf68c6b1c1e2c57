"""The public test networks fl-node deploys to, registered as Brownie networks.

Brownie reads its networks from ``~/.brownie/network-config.yaml`` only (a project's
``brownie-config.yaml`` can tune the networks there, not add new ones), so
:func:`register_brownie_networks` adds or updates fl-node's entries in that file, idempotently: it
writes only when an entry is missing or differs. ``make console``, ``make deploy`` and
``tools/env.sh`` run it (``python -m fl_node.toolchain.networks``), so no manual step is needed.

Each network's RPC URL comes from an environment variable (Brownie expands ``$VAR`` in a
network's host when it connects), so no provider key is written to any file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fl_node.errors import ToolchainError

#: The group the networks are listed under in ``brownie networks list``.
GROUP = "fl-node"


@dataclass(frozen=True)
class PublicNetwork:
    id: str  # Brownie's network id: ``--network <id>``
    name: str
    chain_id: int
    rpc_env: str  # the environment variable holding the RPC URL
    explorer: str

    def brownie_entry(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "chainid": self.chain_id,
            "host": f"${self.rpc_env}",
            "explorer": self.explorer,
        }


PUBLIC_NETWORKS = (
    PublicNetwork(
        "fl-sepolia", "Sepolia (fl-node)", 11155111, "SEPOLIA_RPC_URL",
        "https://api-sepolia.etherscan.io/api",
    ),
    PublicNetwork(
        "fl-base-sepolia", "Base Sepolia (fl-node)", 84532, "BASE_SEPOLIA_RPC_URL",
        "https://api-sepolia.basescan.org/api",
    ),
    PublicNetwork(
        "fl-arbitrum-sepolia", "Arbitrum Sepolia (fl-node)", 421614, "ARBITRUM_SEPOLIA_RPC_URL",
        "https://api-sepolia.arbiscan.io/api",
    ),
)  # fmt: skip


def brownie_data_folder() -> Path:
    """Brownie's data folder (where it keeps network-config.yaml): ``~/.brownie``."""
    return Path.home() / ".brownie"


def _default_network_config() -> Path:
    """Brownie's own network-config.yaml, the starting point when the user has none yet."""
    spec = importlib.util.find_spec("brownie")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError("Brownie is not installed: run `make setup` in the project")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "network-config.yaml"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ToolchainError(f"cannot read Brownie's network config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ToolchainError(f"{path} is not a Brownie network config (not a mapping)")
    data.setdefault("development", [])
    data.setdefault("live", [])
    return data


def merge_networks(config: dict[str, Any], networks: tuple[PublicNetwork, ...]) -> list[str]:
    """Put ``networks`` into a loaded network config under :data:`GROUP` (in place), replacing
    any entry with the same id elsewhere; returns the ids that were added or changed."""
    wanted = {n.id: n.brownie_entry() for n in networks}
    changed: list[str] = []
    group = next((g for g in config["live"] if g.get("name") == GROUP), None)
    if group is None:
        group = {"name": GROUP, "networks": []}
        config["live"].append(group)
    for other in config["live"]:
        if other is not group:
            other["networks"] = [n for n in other.get("networks", []) if n.get("id") not in wanted]
    config["development"] = [n for n in config["development"] if n.get("id") not in wanted]
    current = {n.get("id"): n for n in group.get("networks", [])}
    for id_, entry in wanted.items():
        if current.get(id_) != entry:
            changed.append(id_)
        current[id_] = entry
    group["networks"] = list(current.values())
    return changed


def register_brownie_networks(data_folder: Path | None = None) -> list[str]:
    """Add or update fl-node's public networks in Brownie's network config; returns the ids that
    changed (empty: the file already had them, and it was not rewritten)."""
    folder = data_folder or brownie_data_folder()
    path = folder / "network-config.yaml"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_default_network_config(), path)
    config = _load(path)
    changed = merge_networks(config, PUBLIC_NETWORKS)
    if changed:
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        os.replace(tmp, path)
    return changed


def require_rpc_url(network_id: str | None) -> None:
    """A clear error when one of fl-node's networks is asked for without its RPC URL variable
    (Brownie would fail with a traceback about expanding its host setting)."""
    from fl_node.errors import ConfigError

    for network in PUBLIC_NETWORKS:
        if network.id == network_id and not os.environ.get(network.rpc_env):
            raise ConfigError(
                f"--network {network.id} takes its RPC URL from ${network.rpc_env}: set it to "
                f"your provider's {network.name.split(' (')[0]} endpoint (https://...)"
            )


def describe() -> str:
    """The networks as lines for help texts: id, chain id and the RPC variable."""
    return "\n".join(
        f"  --network {n.id:<20} chain id {n.chain_id:<9} RPC URL from ${n.rpc_env}"
        for n in PUBLIC_NETWORKS
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    quiet = "--quiet" in args
    try:
        changed = register_brownie_networks()
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if changed and not quiet:
        print(f"Brownie networks registered in {brownie_data_folder()}: {', '.join(changed)}")
        print(describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
