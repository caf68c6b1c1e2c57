"""What a SuperNode process keeps between the messages it settles.

Making a message's native node from its settings costs about 0.2 s of Python: two chain clients
(one to learn the chain id), web3's contract objects of the deployment, the task config's YAML,
the key (a keystore takes longer still) and the store. On Flower's simulation engine one Ray actor
runs many messages, of several nodes, and that cost was most of a settled round. A
:class:`Sessions` cache keeps them per settings, for as long as the files they came from are
unchanged; each message still makes its own node, with its checks of the task and the model.

Ray hands every message a freshly unpickled copy of the ClientApp, so the settling mod's cache is
the process's own (:func:`process_sessions`): a copy unpickled in the process finds it, and a copy
in another process (or a child forked from this one) starts empty.

Kept between messages, safely, and shared by the nodes a process runs (an actor runs whichever
node Flower hands it): the chain client (one kept-alive connection per thread; the nonce of a
message's key is asked again, since another process may have sent from the same key meanwhile),
the task bindings (a task's parameters never change), the task config and the store; the
watches of the rounds its background reveals wait on (:mod:`fl_node.flower.watch`); and each
node's key. On Flower's deployment engine every message starts a process of its own, and nothing
is kept.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from eth_account.signers.local import LocalAccount

from fl_node.config import TaskConfig
from fl_node.flower.settings import ChainSettings, Signer
from fl_node.flower.watch import RoundWatches

if TYPE_CHECKING:
    from fl_node.artifacts.store import ArtifactStore
    from fl_node.chain.client import ChainClient
    from fl_node.federation.protocol import FederationApi

#: A file's identity for the cache: its path, size and modification time (None if no such file).
Stamp = tuple[str, int, int] | None
#: The sessions of this process (with its id: a forked child makes its own).
_PROCESS: tuple[int, Sessions] | None = None
_PROCESS_LOCK = threading.Lock()


def file_stamp(path: str | Path) -> Stamp:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return (str(path), stat.st_size, stat.st_mtime_ns)


@dataclass
class Session:
    """The connection, task config and store of some settings (whatever their key), and its
    task bindings."""

    client: ChainClient
    config: TaskConfig
    store: ArtifactStore
    deployment: Path  # the deployment file the client read
    stamps: tuple[Stamp, Stamp]  # the deployment file's and the task config's, when made
    watches: RoundWatches = field(default_factory=RoundWatches)  # what reveals wait on
    _apis: dict[int, FederationApi] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: ChainSettings) -> Session:
        """A new session of ``settings`` (connects to the chain and the store)."""
        client, deployment = settings.connect_with_path()
        return cls(
            client=client,
            config=settings.config(),
            store=settings.open_store(),
            deployment=deployment,
            stamps=_stamps(settings, deployment),
        )

    def current(self, settings: ChainSettings) -> bool:
        """Whether the files this session was made from are unchanged."""
        return _stamps(settings, self.deployment) == self.stamps

    def api(self, task_id: int) -> FederationApi:
        """The task's bindings, made once."""
        from fl_node.federation.protocol import FederationApi

        api = self._apis.get(task_id)
        if api is None:
            api = self._apis[task_id] = FederationApi(self.client, task_id)
        return api


def _stamps(settings: ChainSettings, deployment: Path) -> tuple[Stamp, Stamp]:
    return (file_stamp(deployment), file_stamp(settings.task_config))


def process_sessions() -> Sessions:
    """This process's sessions, shared by every settling mod (and every unpickled copy of one)
    it runs; a new one in a child forked from a process that had them."""
    global _PROCESS
    with _PROCESS_LOCK:
        if _PROCESS is None or _PROCESS[0] != os.getpid():
            _PROCESS = (os.getpid(), Sessions())
        return _PROCESS[1]


class Sessions:
    """Sessions by settings (the nodes an actor runs share one), made again when the deployment
    file or the task config changed; and the nodes' keys. Pickled, it is a reference to the
    unpickling process's own (:func:`process_sessions`): nothing of a session travels."""

    def __init__(self) -> None:
        self._sessions: dict[ChainSettings, Session] = {}
        self._keys: dict[tuple[Signer, int], LocalAccount] = {}
        self._lock = threading.Lock()  # a background reveal may run beside the next message

    def __reduce__(self) -> tuple[Callable[[], Sessions], tuple[()]]:
        return (process_sessions, ())

    def get(self, settings: ChainSettings) -> tuple[Session, LocalAccount]:
        """The session of ``settings`` and its key; the key's next transaction asks the chain
        for its nonce."""
        shared = dataclasses.replace(settings, signer=Signer())
        with self._lock:
            session = self._sessions.get(shared)
            if session is None or not session.current(settings):
                session = self._sessions[shared] = Session.open(settings)
            key = (settings.signer, session.client.chain_id)
            signer = self._keys.get(key)
            if signer is None:
                signer = self._keys[key] = settings.signer.account(session.client.chain_id)
        session.client.forget_nonce(signer.address)
        return session, signer
