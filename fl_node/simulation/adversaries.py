"""Simulated adversaries that wrap the production node (never used by real participants).

:class:`CopycatNode` tries to free-ride on another client's work. Under the protocol's
commit-reveal scheme all it can see while commits are open is other clients' sealed commitment
hashes: it copies one, and once the victim reveals it tries to pass off the victim's update, or a
noisy copy of it, as its own. Every attempt fails on-chain (the commitment binds the committer and
its salt; commits close before any update is revealed), so the copycat ends with an unrevealed
commitment: excluded from the aggregate and burned by the clip, like any client that sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fl_node.artifacts.codec import decode_weights, encode_weights, keccak
from fl_node.chain.client import TxReverted
from fl_node.errors import ArtifactError
from fl_node.federation.context import derive_seed
from fl_node.federation.node import NodeDaemon
from fl_node.federation.protocol import CommitEvent, RoundState, hex32

#: Relative size of the noise a copycat adds to a copied update (to dodge duplicate detection).
NOISE = 1e-3


@dataclass
class CopycatNode(NodeDaemon):
    """Copies another client's commitment, then tries to reveal a (noisy) copy of its update."""

    attempts: dict[int, list[str]] = field(default_factory=dict)

    def _victim(self, number: int) -> CommitEvent | None:
        """The commitment this copycat copies: the lowest other client's of the round."""
        others = [e for e in self.api.commits(number) if e.client.lower() != self.address.lower()]
        return min(others, key=lambda e: e.client.lower(), default=None)

    def _commitment_of(self, number: int, info: RoundState) -> bytes | None:
        victim = self._victim(number)
        if victim is None:
            return None  # nothing to copy yet
        self.log(f"round {number}: copying the commitment of {victim.client[:10]}")
        return victim.commit_hash

    def _reveal(self, number: int, info: RoundState) -> None:
        if number in self.attempts:
            return  # tried everything once
        victim = self._victim(number)
        revealed = self.api.reveals(number).get(victim.client.lower()) if victim else None
        if revealed is None:
            return  # wait for the victim's reveal
        try:
            blob = self.store.get(hex32(revealed.update_hash), owner=revealed.client)
        except ArtifactError:
            return
        weights, meta = decode_weights(blob)
        rng = np.random.default_rng(derive_seed(self.config.seed, "copycat", number))
        noisy = {
            name: (w + NOISE * rng.standard_normal(w.shape) * (np.std(w) + 1e-12)).astype(w.dtype)
            for name, w in weights.items()
        }
        copy = encode_weights(noisy, {**meta, "client": self.address.lower()})
        noisy_hash = keccak(copy)
        self.store.put(copy, owner=self.address)
        outcomes = []
        for label, update in (("exact copy", revealed.update_hash), ("noisy copy", noisy_hash)):
            ok = self._send_reveal(number, update, self.salt(number))
            outcomes.append(f"reveal of the {label}: {'accepted' if ok else 'refused'}")
        try:  # a fresh commitment of the noisy copy, now that it can be seen
            self.api.commit(self.signer, number, self.sealed(number, noisy_hash), self.stake)
            outcomes.append("late commit: accepted")
        except TxReverted as exc:
            outcomes.append(f"late commit: refused ({exc.error})")
        self.attempts[number] = outcomes
        self.log(f"round {number}: copycat " + "; ".join(outcomes))
