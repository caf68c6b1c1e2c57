"""Event polling from a saved block checkpoint, so a restarted process resumes where it stopped.

:class:`EventLog` reads and decodes the suite's events over a block range (in chunks, so public
RPCs' range limits are respected). :class:`Checkpoint` is a small JSON file of named block
numbers written atomically: a daemon processes events up to block B, then saves B; after a crash it
re-reads from its last saved block, and its handlers are idempotent, so nothing is lost or doubled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3._utils.events import get_event_data

from fl_node.chain.client import ChainClient
from fl_node.errors import ConfigError


@dataclass(frozen=True)
class Event:
    """A decoded log."""

    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


class EventLog:
    """Decodes the logs of the named contracts of a deployment."""

    def __init__(self, client: ChainClient, contracts: Iterable[str], chunk: int = 2_000):
        if client.deployment is None:
            raise ConfigError("event polling needs a deployment file")
        self.client = client
        self.chunk = chunk
        self._by_address: dict[str, tuple[str, dict[bytes, dict[str, Any]]]] = {}
        for name in contracts:
            topics = {
                event_abi_to_log_topic(item): item  # type: ignore[arg-type]
                for item in client.deployment.abi(name)
                if item.get("type") == "event"
            }
            address = to_checksum_address(client.deployment.address(name))
            self._by_address[address] = (name, topics)

    def fetch(
        self,
        from_block: int,
        to_block: int,
        names: Iterable[str] | None = None,
        topics: list[Any] | None = None,
    ) -> list[Event]:
        """Decoded events in ``[from_block, to_block]``, in chain order; ``names`` filters."""
        wanted = set(names) if names is not None else None
        out: list[Event] = []
        for start in range(from_block, to_block + 1, self.chunk):
            end = min(start + self.chunk - 1, to_block)
            params: dict[str, Any] = {
                "fromBlock": start,
                "toBlock": end,
                "address": list(self._by_address),
            }
            if topics is not None:
                params["topics"] = topics
            logs = self.client.retry.run(
                "get logs",
                lambda p=params: self.client.w3.eth.get_logs(p),  # type: ignore[misc]
            )
            out.extend(self._decode(logs, wanted))
        out.sort(key=lambda e: e.position)
        return out

    def _decode(self, logs: Iterable[Any], wanted: set[str] | None) -> Iterator[Event]:
        codec = self.client.w3.codec
        for log in logs:
            entry = self._by_address.get(to_checksum_address(log["address"]))
            if entry is None or not log["topics"]:
                continue
            contract, topics = entry
            abi = topics.get(bytes(log["topics"][0]))
            if abi is None or (wanted is not None and abi["name"] not in wanted):
                continue
            data = get_event_data(codec, abi, log)
            yield Event(
                contract=contract,
                name=str(data["event"]),
                args=dict(data["args"]),
                block_number=int(data["blockNumber"]),
                log_index=int(data["logIndex"]),
                tx_hash="0x" + bytes(data["transactionHash"]).hex(),
            )


class Checkpoint:
    """Named block numbers persisted atomically in a JSON file."""

    def __init__(self, path: Path):
        self.path = path
        self._data: dict[str, Any] = {}
        if path.is_file():
            try:
                self._data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"checkpoint {path} is corrupt ({exc}); delete it to rescan"
                ) from exc

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._flush()

    def update(self, values: dict[str, Any]) -> None:
        self._data.update(values)
        self._flush()

    def _flush(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
