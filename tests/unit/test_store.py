"""The content-addressed artifact store on a local directory and in memory."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fl_node.artifacts.codec import canonical_json, hash_hex
from fl_node.artifacts.store import ArtifactStore
from fl_node.errors import ArtifactError, ConfigError


@pytest.fixture(params=["path", "file_url", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "path":
        return ArtifactStore(str(tmp_path / "store"))
    if request.param == "file_url":
        return ArtifactStore(f"file://{tmp_path}/store")
    return ArtifactStore(f"memory://test-{uuid.uuid4().hex}")


def test_put_get_exists(store: ArtifactStore) -> None:
    blob = b"\x00model bytes\xff"
    digest = store.put(blob)
    assert digest == hash_hex(blob)
    assert store.exists(digest)
    assert store.get(digest) == blob
    assert store.get(digest.upper().replace("0X", "0x")) == blob  # hex case does not matter
    other = hash_hex(b"never stored")
    assert not store.exists(other)


def test_put_is_idempotent(store: ArtifactStore) -> None:
    first = store.put(b"same")
    second = store.put(bytearray(b"same"))
    assert first == second
    assert store.get(first) == b"same"


def test_missing_blob(store: ArtifactStore) -> None:
    digest = hash_hex(b"absent")
    with pytest.raises(ArtifactError, match=f"no blob {digest}"):
        store.get(digest)


def test_json_round_trip(store: ArtifactStore) -> None:
    obj = {"b": [1, 2.5, None], "a": "ü"}
    digest = store.put_json(obj)
    assert digest == hash_hex(canonical_json(obj))
    assert store.get_json(digest) == obj
    not_json = store.put(b"\x00\x01")
    with pytest.raises(ArtifactError, match="is not JSON"):
        store.get_json(not_json)


def test_named_documents(store: ArtifactStore) -> None:
    store.put_named("results-01.json", b"v1")
    assert store.get_named("results-01.json") == b"v1"
    store.put_named("results-01.json", b"v2")  # names are mutable, unlike blobs
    assert store.get_named("results-01.json") == b"v2"
    with pytest.raises(ArtifactError, match="no document named 'other'"):
        store.get_named("other")


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 201, None])
def test_bad_names_are_rejected(store: ArtifactStore, name: object) -> None:
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        store.put_named(name, b"x")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        store.get_named(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", ["", "0x1234", "ab" * 32, "0x" + "g" * 64, "0x" + "a" * 65, 123, b"\x00" * 32]
)
def test_bad_hash_strings_are_rejected(store: ArtifactStore, bad: object) -> None:
    for op in (store.get, store.exists, store.get_json):
        with pytest.raises(ArtifactError, match="invalid hash"):
            op(bad)  # type: ignore[arg-type]


def test_put_rejects_non_bytes(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactError, match="must be bytes"):
        store.put("text")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="must be bytes"):
        store.put_named("n", "text")  # type: ignore[arg-type]


def test_local_layout_is_atomic_and_content_addressed(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = store.put(b"payload")
    store.put(b"payload")
    store.put_named("doc", b"named")
    blobs = sorted(p.name for p in (tmp_path / "blobs").iterdir())
    assert blobs == [digest[2:]]  # one file, no temporary leftovers
    assert (tmp_path / "blobs" / digest[2:]).read_bytes() == b"payload"
    assert [p.name for p in (tmp_path / "named").iterdir()] == ["doc"]
    assert ArtifactStore(f"file://{tmp_path}").get(digest) == b"payload"  # same root, other URL


def test_corrupt_blob_is_detected(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = store.put(b"original")
    (tmp_path / "blobs" / digest[2:]).write_bytes(b"tampered")
    with pytest.raises(
        ArtifactError, match=f"corrupt blob {digest}.*hash to {hash_hex(b'tampered')}"
    ):
        store.get(digest)


def test_put_repairs_a_damaged_copy(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = store.put(b"original")
    (tmp_path / "blobs" / digest[2:]).write_bytes(b"orig")  # a torn write
    with pytest.raises(ArtifactError, match="corrupt"):
        store.get(digest)
    assert store.put(b"original") == digest
    assert store.get(digest) == b"original"


def test_unreadable_blob_is_an_artifact_error(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = hash_hex(b"x")
    (tmp_path / "blobs" / digest[2:]).mkdir()  # a directory where the blob should be
    with pytest.raises(ArtifactError, match="cannot"):
        store.get(digest)


def test_corrupt_blob_in_memory_store() -> None:
    store = ArtifactStore(f"memory://corrupt-{uuid.uuid4().hex}")
    digest = store.put(b"original")
    store._fs.pipe_file(store._blob_path(digest), b"tampered")
    with pytest.raises(ArtifactError, match="corrupt"):
        store.get(digest)


def test_memory_stores_with_the_same_url_share_content() -> None:
    url = f"memory://shared-{uuid.uuid4().hex}"
    digest = ArtifactStore(url).put(b"shared")
    assert ArtifactStore(url).get(digest) == b"shared"
    assert not ArtifactStore(f"memory://other-{uuid.uuid4().hex}").exists(digest)


@pytest.mark.parametrize("url", ["bogus://bucket/x", "nosuchproto://y"])
def test_unknown_protocol_is_a_config_error_naming_the_url(url: str) -> None:
    with pytest.raises(ConfigError, match=url):
        ArtifactStore(url)


def test_empty_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="empty"):
        ArtifactStore("  ")


def test_unusable_local_path_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot create artifact store"):
        ArtifactStore(str(blocker / "store"))


def test_url_attribute_and_repr(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    assert store.url == str(tmp_path)
    assert str(tmp_path) in repr(store)
