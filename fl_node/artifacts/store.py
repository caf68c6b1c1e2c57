"""A content-addressed blob store behind any fsspec URL, with one prefix per participant.

Every document lives under the prefix of the participant who wrote it, named by its checksummed
address::

    <root>/participants/<0xAddress>/blobs/<keccak hex>   content-addressed blobs
    <root>/participants/<0xAddress>/named/<name>         documents named otherwise (a results
                                                         table under its Merkle root)

A client writes its updates under its own prefix, the sponsor the task's initial model, and the
aggregator each round's global model and results table. A reader asks for a document under the
prefix of the participant who had to write it (a client's update only from that client's prefix)
and checks what it got against the name it asked for (and the on-chain commitment). So nobody
needs to write outside their own prefix, and a store whose write credentials are per prefix
guarantees that no participant can overwrite, delete or forge another's evidence:

**S3** (AWS, MinIO, Ceph, ...): give every participant its own credentials (an IAM user or role;
a MinIO user) and grant everyone read access to the store but writes only to their own prefix.
On AWS, as a bucket policy (one ``PutObject`` statement per participant; the same statements
work as each user's own identity policy, without the ``Principal``)::

    {"Version": "2012-10-17", "Statement": [
      {"Sid": "ParticipantsRead", "Effect": "Allow",
       "Principal": {"AWS": ["arn:aws:iam::ACCOUNT:user/sponsor",
                             "arn:aws:iam::ACCOUNT:user/aggregator",
                             "arn:aws:iam::ACCOUNT:user/client-1"]},
       "Action": ["s3:ListBucket", "s3:GetObject"],
       "Resource": ["arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"]},
      {"Sid": "Client1WritesItsOwnPrefix", "Effect": "Allow",
       "Principal": {"AWS": "arn:aws:iam::ACCOUNT:user/client-1"},
       "Action": "s3:PutObject",
       "Resource": "arn:aws:s3:::BUCKET/ROOT/participants/0xCLIENT1ADDRESS/*"}]}

and no ``s3:DeleteObject`` for anyone (nothing is ever deleted). The address in the resource
must be the checksummed form (mixed case) of the participant's account, exactly as the store
writes it; with ``s3://BUCKET`` (no ``ROOT``) the prefix starts at ``participants/``. An auditor
needs only the read statement (or ``--store-option anon=true`` on a public bucket).

**A shared file system** (NFS, a common disk): the operator owns ``<root>`` and
``<root>/participants`` (mode 0755) and creates ``<root>/participants/<0xAddress>`` for each
participant, owned by that participant's Unix user (mode 0755); nobody may create entries in
``participants`` itself, or one could take another's address first.

``file://`` (or a bare path) is the default; ``memory://`` serves tests and single-process
simulations; ``s3://`` and the other fsspec protocols work when their package is installed (see
:mod:`fl_node.artifacts.s3` for the S3 settings). A store opened ``read_only`` never writes,
creates a folder or a bucket: it only reads, and a missing root is an error.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

import fsspec
from eth_utils import is_address
from fsspec.implementations.local import LocalFileSystem

from fl_node.addresses import checksummed
from fl_node.artifacts import s3
from fl_node.artifacts.codec import canonical_json, hash_hex
from fl_node.errors import ArtifactError, ConfigError

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
PARTICIPANTS = "participants"


class ArtifactMissing(ArtifactError):
    """Nothing is stored under the name asked for (in the owner's prefix)."""


class ArtifactAltered(ArtifactError):
    """Something is stored under the name asked for, but its bytes no longer hash to it."""


def check_hash(hash_hex_str: object) -> str:
    """The canonical (lowercase) form of a ``0x`` + 64-hex hash; ArtifactError otherwise."""
    if not isinstance(hash_hex_str, str) or not _HASH.match(hash_hex_str):
        raise ArtifactError(
            f"invalid hash {hash_hex_str!r}: expected '0x' followed by 64 hex digits"
        )
    return hash_hex_str.lower()


def owner_prefix(owner: object) -> str:
    """A participant's prefix (relative to the root): ``participants/<checksummed address>``."""
    if not isinstance(owner, str) or not is_address(owner):
        raise ArtifactError(f"invalid participant address {owner!r}: expected 0x and 40 hex digits")
    return f"{PARTICIPANTS}/{checksummed(owner)}"


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ArtifactError(
            f"invalid artifact name {name!r}: use letters, digits, '.', '_' and '-' "
            "(no path separators), at most 200 characters"
        )
    return name


def _as_bytes(data: object, what: str) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ArtifactError(f"{what} must be bytes, not {type(data).__name__}")
    return bytes(data)


class ArtifactStore:
    """Content-addressed blobs and named documents under one fsspec URL, one prefix per owner.

    ``options`` are the store options of an ``s3://`` URL (see :mod:`fl_node.artifacts.s3`).
    """

    def __init__(
        self, url: str, *, read_only: bool = False, options: Mapping[str, str] | None = None
    ) -> None:
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"artifact store URL {url!r} is empty: use a path or file:// URL")
        self.url = url
        self.read_only = read_only
        protocol = fsspec.core.split_protocol(url)[0] or "file"
        kwargs: dict[str, Any] = {}
        if s3.is_s3(protocol):
            kwargs = s3.storage_options(url, options or {})
        elif options:
            raise ConfigError(f"store options apply to s3:// stores only, not to {url}")
        try:
            fs, root = fsspec.core.url_to_fs(url, **kwargs)
        except ImportError as exc:
            extra = " (pip install 'fl-node[s3]')" if s3.is_s3(protocol) else ""
            raise ConfigError(f"cannot open artifact store {url!r}: {exc}{extra}") from None
        except ValueError as exc:
            raise ConfigError(f"cannot open artifact store {url!r}: {exc}") from exc
        self._fs = fs
        self._local = isinstance(fs, LocalFileSystem)
        self._root = root.rstrip("/")
        self._errors: tuple[type[BaseException], ...] = (OSError, *s3.transport_errors())
        if s3.is_s3(protocol):
            s3.check_bucket(fs, self._root.split("/", 1)[0], url)
        elif read_only:
            if not fs.isdir(self._root):
                raise ConfigError(f"no artifact store at {url}: {self._root} is not a directory")
        else:
            try:
                fs.makedirs(self._path(PARTICIPANTS), exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create artifact store at {url!r}: {exc}") from exc

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"ArtifactStore({self.url!r}{mode})"

    # -- paths, reads and writes ---------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return "/".join([self._root, *parts])

    def _blob_path(self, hash_hex_str: str, owner: str) -> str:
        return self._path(owner_prefix(owner), "blobs", check_hash(hash_hex_str)[2:])

    def _named_path(self, name: str, owner: str) -> str:
        return self._path(owner_prefix(owner), "named", _check_name(name))

    def _write(self, path: str, data: bytes) -> None:
        """Write so a reader never sees a partial file: tmp file + rename on a local disk."""
        if self.read_only:
            raise ArtifactError(f"store {self.url} is opened read-only: cannot write {path}")
        if not self._local:
            try:
                self._fs.pipe_file(path, data)
            except self._errors as exc:
                raise ArtifactError(f"cannot write {path} in store {self.url}: {exc}") from None
            return
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            # the OS's reason without the tmp file's name, so a repeated failure reads the same
            raise ArtifactError(
                f"cannot write {path} in store {self.url}: {exc.strerror or exc}"
            ) from None

    def _read(self, path: str) -> bytes | None:
        try:
            return bytes(self._fs.cat_file(path))
        except (FileNotFoundError, NotADirectoryError):  # nothing stored there
            return None
        except self._errors as exc:
            raise ArtifactError(f"cannot read {path} in store {self.url}: {exc}") from None

    # -- content-addressed blobs ---------------------------------------------------------------
    def put(self, blob: bytes | bytearray | memoryview, *, owner: str) -> str:
        """Store ``blob`` under ``owner``'s prefix and its keccak hash; returns the hash.

        Idempotent: an intact copy is left alone, and a damaged one (a disk error, a tampered
        file) is replaced, so re-uploading is always the fix for a "corrupt" blob.
        """
        return self._put(_as_bytes(blob, "a blob"), owner)[0]

    def ensure(self, blob: bytes | bytearray | memoryview, *, owner: str) -> bool:
        """Make sure ``owner``'s prefix holds ``blob`` intact; True when it had to (re-)upload
        it because it was missing or altered."""
        return self._put(_as_bytes(blob, "a blob"), owner)[1]

    def _put(self, data: bytes, owner: str) -> tuple[str, bool]:
        digest = hash_hex(data)
        path = self._blob_path(digest, owner)
        if self._read(path) == data:
            return digest, False
        self._write(path, data)
        return digest, True

    def get(self, hash_hex_str: str, *, owner: str) -> bytes:
        """The blob named ``hash_hex_str`` in ``owner``'s prefix, checked to hash to that name
        (ArtifactMissing when absent, ArtifactAltered when its bytes hash to something else)."""
        digest = check_hash(hash_hex_str)
        data = self._read(self._blob_path(digest, owner))
        if data is None:
            raise ArtifactMissing(f"no blob {digest} of {owner} in store {self.url}")
        actual = hash_hex(data)
        if actual != digest:
            raise ArtifactAltered(
                f"altered blob {digest} of {owner} in store {self.url}: its bytes hash to {actual}"
            )
        return data

    def exists(self, hash_hex_str: str, *, owner: str) -> bool:
        try:
            return bool(self._fs.exists(self._blob_path(hash_hex_str, owner)))
        except self._errors as exc:
            raise ArtifactError(f"cannot read store {self.url}: {exc}") from None

    def put_json(self, obj: Any, *, owner: str) -> str:
        """Store ``obj`` as canonical JSON under ``owner``'s prefix; returns its hash."""
        return self.put(canonical_json(obj), owner=owner)

    def get_json(self, hash_hex_str: str, *, owner: str) -> Any:
        data = self.get(hash_hex_str, owner=owner)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ArtifactError(f"blob {hash_hex_str} is not JSON: {exc}") from exc

    # -- named documents -----------------------------------------------------------------------
    def put_named(self, name: str, data: bytes | bytearray | memoryview, *, owner: str) -> None:
        """Store ``data`` as ``name`` under ``owner``'s prefix, replacing any earlier version."""
        self._write(self._named_path(name, owner), _as_bytes(data, "named data"))

    def get_named(self, name: str, *, owner: str) -> bytes:
        data = self._read(self._named_path(name, owner))
        if data is None:
            raise ArtifactMissing(f"no document named {name!r} of {owner} in store {self.url}")
        return data
