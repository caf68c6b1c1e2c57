"""Opening the store that separate processes (on separate machines) share: the command line's.

A node, an aggregator, a sponsor and an auditor are separate processes, so their store must be
one they can all reach: a path or ``file://`` URL on a shared disk, or an ``s3://`` bucket.
``memory://`` lives inside one process (each would see its own empty store), so it is refused
here; the in-process simulation opens :class:`ArtifactStore` directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import fsspec

from fl_node.artifacts.store import ArtifactStore
from fl_node.errors import ConfigError

#: Help text of ``--store-option``, for every command that opens a store.
OPTION_HELP = (
    "a setting of an s3:// store, KEY=VALUE (repeatable): endpoint_url=URL, region=NAME, "
    "profile=NAME, anon=true. Without them: the endpoint from FL_NODE_S3_ENDPOINT (or "
    "AWS_ENDPOINT_URL), credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
    "AWS_PROFILE), the region from AWS_REGION"
)


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    """``["key=value", ...]`` as a dict; ConfigError for a malformed or repeated pair."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ConfigError(f"--store-option {pair!r}: expected KEY=VALUE")
        if key in options:
            raise ConfigError(f"--store-option {key} is given twice")
        options[key] = value.strip()
    return options


def open_shared_store(
    url: str, options: Sequence[str] = (), read_only: bool = False
) -> ArtifactStore:
    """The store at ``url`` for a command-line process (read-only commands never write)."""
    if not url.strip():
        raise ConfigError(
            "--store is empty: give the store's URL (a path, file://PATH or s3://BUCKET/PREFIX)"
        )
    if fsspec.core.split_protocol(url)[0] == "memory":
        raise ConfigError(
            f"--store {url}: a memory:// store lives inside one process, and the node, the "
            "aggregator and the auditor are separate processes; use a path, file://PATH on a "
            "shared disk, or s3://BUCKET/PREFIX"
        )
    return ArtifactStore(url, read_only=read_only, options=parse_options(options))
