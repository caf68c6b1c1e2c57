"""Event polling from a saved block checkpoint, so a restarted process resumes where it stopped.

:class:`EventLog` reads and decodes the suite's events over a block range (in chunks, so public
RPCs' range limits are respected). :class:`Checkpoint` is a small JSON file of named block
numbers written atomically: a daemon processes events up to block B, then saves B; after a crash it
re-reads from its last saved block, and its handlers are idempotent, so nothing is lost or doubled.
:class:`Waiter` is how a daemon waits cheaply between steps: one ``eth_blockNumber`` per poll, with
the interval growing to a cap, and an ``eth_getLogs`` of the new blocks only when there are some.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.exceptions import DecodingError
from hexbytes import HexBytes

from fl_node.addresses import checksummed
from fl_node.chain.abicodec import EventCodec
from fl_node.chain.client import ChainClient
from fl_node.chain.receipts import quantity
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
    """Decodes the logs of the named contracts of a deployment, by each log's first topic (the
    event's signature hash) and the deployment's ABI (:class:`~.abicodec.EventCodec`, checked
    against web3's decoding in the tests)."""

    def __init__(self, client: ChainClient, contracts: Iterable[str], chunk: int = 2_000):
        if client.deployment is None:
            raise ConfigError("event polling needs a deployment file")
        if chunk < 1:
            raise ConfigError(f"the block chunk of event polling must be >= 1, got {chunk}")
        self.client = client
        self.chunk = chunk
        self._by_address: dict[str, tuple[str, dict[bytes, EventCodec]]] = {}
        for name in contracts:
            contract = client.contract(name)
            codecs = [EventCodec.of(dict(e)) for e in contract.abi if e.get("type") == "event"]
            events = {codec.topic: codec for codec in codecs}
            self._by_address[checksummed(contract.address)] = (name, events)

    def event_names(self, contract: str) -> list[str]:
        """Names of the events of ``contract`` this log decodes."""
        for name, events in self._by_address.values():
            if name == contract:
                return sorted(e.name for e in events.values())
        raise ConfigError(f"{contract} is not one of this event log's contracts")

    def fetch(
        self,
        from_block: int,
        to_block: int,
        names: Iterable[str] | None = None,
        topics: list[Any] | None = None,
    ) -> list[Event]:
        """Decoded events in ``[from_block, to_block]``, in chain order; ``names`` filters by
        event name, ``topics`` is passed to ``eth_getLogs`` (indexed arguments, hex)."""
        wanted = set(names) if names is not None else None
        topics = self._with_signatures(topics, wanted)
        out: list[Event] = []
        for start in range(max(0, from_block), to_block + 1, self.chunk):
            end = min(start + self.chunk - 1, to_block)
            params: dict[str, Any] = {
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "address": list(self._by_address),
            }
            if topics is not None:
                params["topics"] = topics
            for log in self.client.request("eth_getLogs", [params]) or []:
                event = self.decode(log, wanted)
                if event is not None:
                    out.append(event)
        out.sort(key=lambda e: e.position)
        return out

    def _with_signatures(self, topics: list[Any] | None, names: set[str] | None) -> Any:
        """``topics`` with the signature topics of ``names`` in the first place when it is
        open, so the node leaves the other events out."""
        if names is None or (topics is not None and topics and topics[0] is not None):
            return topics
        signatures = sorted(
            "0x" + codec.topic.hex()
            for _, events in self._by_address.values()
            for codec in events.values()
            if codec.name in names
        )
        return [signatures, *(topics or [])[1:]]

    def decode(self, log: Any, names: set[str] | None = None) -> Event | None:
        """One log (raw JSON-RPC or as web3 formats it) as an :class:`Event`; None when it is
        not one of the contracts' known events (or not one of ``names``)."""
        entry = self._by_address.get(checksummed(log["address"]))
        if entry is None or not log["topics"]:
            return None
        contract, events = entry
        topics = [bytes(HexBytes(t)) for t in log["topics"]]
        codec = events.get(topics[0])
        if codec is None or (names is not None and codec.name not in names):
            return None
        try:
            args = codec.decode(topics, bytes(HexBytes(log["data"])))
        except (ValueError, DecodingError) as exc:  # same signature, other indexing
            raise ConfigError(
                f"a {codec.name} log of {contract} does not match the deployment's ABI ({exc})"
            ) from exc
        return Event(
            contract=contract,
            name=codec.name,
            args=args,
            block_number=quantity(log["blockNumber"]),
            log_index=quantity(log["logIndex"]),
            tx_hash="0x" + bytes(HexBytes(log["transactionHash"])).hex(),
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
        self.update({key: value})

    def update(self, values: dict[str, Any]) -> None:
        """Set ``values``; the file is written only when something changed."""
        if all(k in self._data and self._data[k] == v for k, v in values.items()):
            return
        self._data.update(values)
        self._flush()

    def _flush(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


#: More new blocks than this since the last look: wake without reading their logs (a long outage;
#: public RPCs limit the block range of ``eth_getLogs``).
MAX_LOG_RANGE = 1_000


@dataclass
class Waiter:
    """Sleeps until the chain has news for a daemon: a new block with a log of ``address``
    matching ``topics``, a wall-clock time (the next deadline), or ``max_idle`` seconds.

    Call :meth:`mark` before reading the state a step acts on, and :meth:`wait` after the step:
    logs of any block after the mark wake the wait, so nothing that happened during the step is
    missed. Polls start ``first`` seconds apart and grow by half each time up to ``longest``, so
    a burst of activity is followed closely and a long wait costs one cheap call every
    ``longest`` seconds.
    """

    client: ChainClient
    address: str
    topics: list[Any] | None = None
    first: float = 0.01
    longest: float = 2.0
    max_idle: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    seen: int | None = None  # the last block looked at

    def mark(self) -> None:
        """From now on, only logs of later blocks count as news."""
        self.seen = self.client.block_number()

    def wait(self, until: float | None = None) -> str:
        """Sleep until news (returns ``"event"``), the clock passes ``until`` (a ``time.time()``
        value; returns ``"deadline"``) or ``max_idle`` seconds pass (``"idle"``)."""
        if self.seen is None:
            self.mark()
        end = self.clock() + self.max_idle
        if until is not None and until < end:
            end = until
        delay = self.first
        while True:
            left = end - self.clock()
            if left <= 0:
                return "deadline" if until is not None and end == until else "idle"
            self.sleep(min(delay, left))
            delay = min(delay * 1.5, self.longest)
            if self._news():
                return "event"

    def _news(self) -> bool:
        latest = self.client.block_number()
        seen = self.seen if self.seen is not None else latest
        if latest == seen:
            return False
        self.seen = latest
        if latest < seen or latest - seen > MAX_LOG_RANGE:
            return True  # the chain went back (a reorganization, a reset), or a long gap
        params: dict[str, Any] = {
            "fromBlock": hex(seen + 1),
            "toBlock": hex(latest),
            "address": self.address,
        }
        if self.topics is not None:
            params["topics"] = self.topics
        return bool(self.client.request("eth_getLogs", [params]))
