"""A content-addressed blob store behind any fsspec URL.

Blobs live at ``<root>/blobs/<keccak hex>`` and are named by their own hash, so a reader checks
what it got against the name it asked for (and against the on-chain commitment), and writing the
same blob twice is a no-op. Mutable documents that are addressed by something other than their
bytes' hash (a results table under its Merkle root) live at ``<root>/named/<name>``.

``file://`` (or a bare path) is the default; ``memory://`` serves tests and single-process
simulations; ``s3://`` and the other fsspec protocols work when their package is installed, with
no other code path.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from fl_node.artifacts.codec import canonical_json, hash_hex
from fl_node.errors import ArtifactError, ConfigError

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def check_hash(hash_hex_str: object) -> str:
    """The canonical (lowercase) form of a ``0x`` + 64-hex hash; ArtifactError otherwise."""
    if not isinstance(hash_hex_str, str) or not _HASH.match(hash_hex_str):
        raise ArtifactError(
            f"invalid hash {hash_hex_str!r}: expected '0x' followed by 64 hex digits"
        )
    return hash_hex_str.lower()


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ArtifactError(
            f"invalid artifact name {name!r}: use letters, digits, '.', '_' and '-' "
            "(no path separators), at most 200 characters"
        )
    return name


class ArtifactStore:
    """Content-addressed blobs and named documents under one fsspec URL."""

    def __init__(self, url: str) -> None:
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"artifact store URL {url!r} is empty: use a path or file:// URL")
        self.url = url
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise ConfigError(f"cannot open artifact store {url!r}: {exc}") from exc
        self._fs = fs
        self._local = isinstance(fs, LocalFileSystem)
        self._root = root.rstrip("/")
        try:
            for sub in ("blobs", "named"):
                fs.makedirs(self._path(sub), exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create artifact store at {url!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    # -- paths and writes ----------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return "/".join([self._root, *parts])

    def _blob_path(self, hash_hex_str: str) -> str:
        return self._path("blobs", check_hash(hash_hex_str)[2:])

    def _write(self, path: str, data: bytes) -> None:
        """Write so a reader never sees a partial file: tmp file + rename on a local disk."""
        if not self._local:
            try:
                self._fs.pipe_file(path, data)
            except OSError as exc:
                raise ArtifactError(f"cannot write {path} in store {self.url}: {exc}") from exc
            return
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise ArtifactError(f"cannot write {path} in store {self.url}: {exc}") from exc

    def _read(self, path: str) -> bytes | None:
        try:
            return bytes(self._fs.cat_file(path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ArtifactError(f"cannot read {path} in store {self.url}: {exc}") from exc

    # -- content-addressed blobs ---------------------------------------------------------------
    def put(self, blob: bytes | bytearray | memoryview) -> str:
        """Store ``blob`` under its keccak hash and return the hash.

        Idempotent: an intact copy is left alone, and a damaged one (a disk error, a tampered
        file) is replaced, so re-uploading is always the fix for a "corrupt" blob.
        """
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise ArtifactError(f"a blob must be bytes, not {type(blob).__name__}")
        data = bytes(blob)
        digest = hash_hex(data)
        path = self._blob_path(digest)
        if self._read(path) != data:
            self._write(path, data)
        return digest

    def get(self, hash_hex_str: str) -> bytes:
        """The blob named ``hash_hex_str``, checked to hash to that name."""
        digest = check_hash(hash_hex_str)
        data = self._read(self._blob_path(digest))
        if data is None:
            raise ArtifactError(f"no blob {digest} in store {self.url}")
        actual = hash_hex(data)
        if actual != digest:
            raise ArtifactError(
                f"corrupt blob {digest} in store {self.url}: its bytes hash to {actual}"
            )
        return data

    def exists(self, hash_hex_str: str) -> bool:
        return bool(self._fs.exists(self._blob_path(hash_hex_str)))

    def put_json(self, obj: Any) -> str:
        """Store ``obj`` as canonical JSON; returns its hash."""
        return self.put(canonical_json(obj))

    def get_json(self, hash_hex_str: str) -> Any:
        data = self.get(hash_hex_str)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ArtifactError(f"blob {hash_hex_str} is not JSON: {exc}") from exc

    # -- named documents -----------------------------------------------------------------------
    def put_named(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` under ``name``, replacing any previous document of that name."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ArtifactError(f"named data must be bytes, not {type(data).__name__}")
        self._write(self._path("named", _check_name(name)), bytes(data))

    def get_named(self, name: str) -> bytes:
        data = self._read(self._path("named", _check_name(name)))
        if data is None:
            raise ArtifactError(f"no document named {name!r} in store {self.url}")
        return data
