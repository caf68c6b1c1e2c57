"""The content-addressed artifact store on a local directory and in memory: one prefix per
participant, reads only from the writer's prefix, missing told apart from altered, read-only
opening that never writes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fl_node.artifacts.codec import canonical_json, hash_hex
from fl_node.artifacts.shared import open_shared_store, parse_options
from fl_node.artifacts.store import (
    ArtifactAltered,
    ArtifactMissing,
    ArtifactStore,
    owner_prefix,
)
from fl_node.errors import ArtifactError, ConfigError

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
MALLORY = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@pytest.fixture(params=["path", "file_url", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "path":
        return ArtifactStore(str(tmp_path / "store"))
    if request.param == "file_url":
        return ArtifactStore(f"file://{tmp_path}/store")
    return ArtifactStore(f"memory://test-{uuid.uuid4().hex}")


def test_put_get_exists(store: ArtifactStore) -> None:
    blob = b"\x00model bytes\xff"
    digest = store.put(blob, owner=ALICE)
    assert digest == hash_hex(blob)
    assert store.exists(digest, owner=ALICE)
    assert store.get(digest, owner=ALICE) == blob
    assert store.get(digest.upper().replace("0X", "0x"), owner=ALICE.lower()) == blob
    assert not store.exists(hash_hex(b"never stored"), owner=ALICE)


def test_a_blob_is_read_only_from_its_owners_prefix(store: ArtifactStore) -> None:
    digest = store.put(b"alice's update", owner=ALICE)
    assert not store.exists(digest, owner=MALLORY)
    with pytest.raises(ArtifactMissing, match=f"no blob {digest} of {MALLORY}"):
        store.get(digest, owner=MALLORY)


def test_put_is_idempotent_and_ensure_says_when_it_uploaded(store: ArtifactStore) -> None:
    first = store.put(b"same", owner=ALICE)
    assert store.put(bytearray(b"same"), owner=ALICE) == first
    assert store.get(first, owner=ALICE) == b"same"
    assert store.ensure(b"same", owner=ALICE) is False  # intact: nothing written
    assert store.ensure(b"other", owner=ALICE) is True  # missing: uploaded


def test_missing_blob(store: ArtifactStore) -> None:
    digest = hash_hex(b"absent")
    with pytest.raises(ArtifactMissing, match=f"no blob {digest}"):
        store.get(digest, owner=ALICE)


def test_json_round_trip(store: ArtifactStore) -> None:
    obj = {"b": [1, 2.5, None], "a": "ü"}
    digest = store.put_json(obj, owner=ALICE)
    assert digest == hash_hex(canonical_json(obj))
    assert store.get_json(digest, owner=ALICE) == obj
    not_json = store.put(b"\x00\x01", owner=ALICE)
    with pytest.raises(ArtifactError, match="is not JSON"):
        store.get_json(not_json, owner=ALICE)


def test_named_documents(store: ArtifactStore) -> None:
    store.put_named("results-01.json", b"v1", owner=ALICE)
    assert store.get_named("results-01.json", owner=ALICE) == b"v1"
    store.put_named("results-01.json", b"v2", owner=ALICE)  # names are mutable, unlike blobs
    assert store.get_named("results-01.json", owner=ALICE) == b"v2"
    with pytest.raises(ArtifactMissing, match="no document named 'other'"):
        store.get_named("other", owner=ALICE)
    with pytest.raises(ArtifactMissing, match=r"results-01\.json"):  # only under its writer
        store.get_named("results-01.json", owner=MALLORY)


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 201, None])
def test_bad_names_are_rejected(store: ArtifactStore, name: object) -> None:
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        store.put_named(name, b"x", owner=ALICE)  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        store.get_named(name, owner=ALICE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", ["", "0x1234", "ab" * 32, "0x" + "g" * 64, "0x" + "a" * 65, 123, b"\x00" * 32]
)
def test_bad_hash_strings_are_rejected(store: ArtifactStore, bad: object) -> None:
    for op in (store.get, store.exists, store.get_json):
        with pytest.raises(ArtifactError, match="invalid hash"):
            op(bad, owner=ALICE)  # type: ignore[operator]


@pytest.mark.parametrize("owner", ["", "alice", "0x1234", "../" + ALICE[2:], None, 7])
def test_bad_owners_are_rejected(store: ArtifactStore, owner: object) -> None:
    with pytest.raises(ArtifactError, match="invalid participant address"):
        store.put(b"x", owner=owner)  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="invalid participant address"):
        store.get(hash_hex(b"x"), owner=owner)  # type: ignore[arg-type]


def test_put_rejects_non_bytes(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactError, match="must be bytes"):
        store.put("text", owner=ALICE)  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="must be bytes"):
        store.put_named("n", "text", owner=ALICE)  # type: ignore[arg-type]


def test_local_layout_is_per_participant_atomic_and_content_addressed(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = store.put(b"payload", owner=ALICE.lower())
    store.put(b"payload", owner=ALICE)
    store.put_named("doc", b"named", owner=ALICE)
    prefix = tmp_path / "participants" / ALICE  # the checksummed address, whatever was passed
    assert owner_prefix(ALICE.lower()) == f"participants/{ALICE}"
    assert [p.name for p in (tmp_path / "participants").iterdir()] == [ALICE]
    assert sorted(p.name for p in (prefix / "blobs").iterdir()) == [digest[2:]]  # no leftovers
    assert (prefix / "blobs" / digest[2:]).read_bytes() == b"payload"
    assert [p.name for p in (prefix / "named").iterdir()] == ["doc"]
    assert ArtifactStore(f"file://{tmp_path}").get(digest, owner=ALICE) == b"payload"


def test_altered_blob_is_told_apart_from_a_missing_one(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = store.put(b"original", owner=ALICE)
    (tmp_path / "participants" / ALICE / "blobs" / digest[2:]).write_bytes(b"tampered")
    with pytest.raises(
        ArtifactAltered, match=f"altered blob {digest}.*hash to {hash_hex(b'tampered')}"
    ):
        store.get(digest, owner=ALICE)


def test_a_rival_cannot_shadow_a_blob_from_its_own_prefix(tmp_path: Path) -> None:
    """What broke a victim: a rival who can write the shared store puts garbage where readers
    look. Readers now look only in the victim's prefix; the rival can write only its own."""
    store = ArtifactStore(str(tmp_path))
    digest = store.put(b"alice's update", owner=ALICE)
    rival = tmp_path / "participants" / MALLORY / "blobs"
    rival.mkdir(parents=True)
    (rival / digest[2:]).write_bytes(b"garbage")  # under the victim's hash, in its own prefix
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / digest[2:]).write_bytes(b"garbage")  # where the old layout read
    assert store.get(digest, owner=ALICE) == b"alice's update"
    with pytest.raises(ArtifactAltered):
        store.get(digest, owner=MALLORY)


def test_ensure_repairs_a_damaged_copy(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = store.put(b"original", owner=ALICE)
    path = tmp_path / "participants" / ALICE / "blobs" / digest[2:]
    path.write_bytes(b"orig")  # a torn write
    with pytest.raises(ArtifactAltered):
        store.get(digest, owner=ALICE)
    assert store.ensure(b"original", owner=ALICE) is True
    assert store.get(digest, owner=ALICE) == b"original"
    path.unlink()
    assert store.ensure(b"original", owner=ALICE) is True
    assert store.ensure(b"original", owner=ALICE) is False


def test_unreadable_blob_is_an_artifact_error(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    digest = hash_hex(b"x")
    (tmp_path / "participants" / ALICE / "blobs" / digest[2:]).mkdir(parents=True)
    with pytest.raises(ArtifactError, match="cannot read"):
        store.get(digest, owner=ALICE)


def test_altered_blob_in_memory_store() -> None:
    store = ArtifactStore(f"memory://corrupt-{uuid.uuid4().hex}")
    digest = store.put(b"original", owner=ALICE)
    store._fs.pipe_file(store._blob_path(digest, ALICE), b"tampered")
    with pytest.raises(ArtifactAltered):
        store.get(digest, owner=ALICE)


def test_memory_stores_with_the_same_url_share_content() -> None:
    url = f"memory://shared-{uuid.uuid4().hex}"
    digest = ArtifactStore(url).put(b"shared", owner=ALICE)
    assert ArtifactStore(url).get(digest, owner=ALICE) == b"shared"
    assert not ArtifactStore(f"memory://other-{uuid.uuid4().hex}").exists(digest, owner=ALICE)


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


def test_unwritable_store_fails_with_the_same_message_every_time(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    (tmp_path / "participants" / ALICE).write_text("a file where a folder should be")
    messages = set()
    for _ in range(3):
        with pytest.raises(ArtifactError, match="cannot write") as err:
            store.put(b"update", owner=ALICE)
        messages.add(str(err.value))
    assert len(messages) == 1  # no temporary file name in it: a daemon can tell it is the same


def test_url_attribute_and_repr(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    assert store.url == str(tmp_path)
    assert str(tmp_path) in repr(store)
    assert "read_only=True" in repr(ArtifactStore(str(tmp_path), read_only=True))


# -- read-only opening -------------------------------------------------------------------------
def test_read_only_store_never_creates_its_folder(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    with pytest.raises(ConfigError, match=f"no artifact store at {missing}"):
        ArtifactStore(str(missing), read_only=True)
    assert not missing.exists()


def test_read_only_store_reads_but_refuses_writes(tmp_path: Path) -> None:
    digest = ArtifactStore(str(tmp_path)).put(b"evidence", owner=ALICE)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    ro = ArtifactStore(str(tmp_path), read_only=True)
    assert ro.get(digest, owner=ALICE) == b"evidence"
    with pytest.raises(ArtifactError, match="read-only"):
        ro.put(b"new", owner=ALICE)
    with pytest.raises(ArtifactError, match="read-only"):
        ro.put_named("doc", b"new", owner=ALICE)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_store_options_are_only_for_s3(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="s3:// stores only"):
        ArtifactStore(str(tmp_path), options={"endpoint_url": "http://x"})


# -- the command line's store ------------------------------------------------------------------
def test_the_command_line_refuses_a_memory_store() -> None:
    with pytest.raises(ConfigError, match="memory:// store lives inside one process"):
        open_shared_store("memory://shared")


@pytest.mark.parametrize("url", ["", "   "])
def test_the_command_line_refuses_an_empty_store(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--store is empty"):
        open_shared_store(url)


def test_the_command_line_opens_read_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no artifact store"):
        open_shared_store(str(tmp_path / "absent"), read_only=True)
    assert not (tmp_path / "absent").exists()
    assert open_shared_store(str(tmp_path), read_only=True).read_only


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["endpoint_url"], "expected KEY=VALUE"),
        (["=x"], "expected KEY=VALUE"),
        (["region="], "expected KEY=VALUE"),
        (["region=a", "region=b"], "given twice"),
    ],
)
def test_bad_store_options(pairs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_options(pairs)


def test_store_options_parse() -> None:
    assert parse_options([" region = eu-west-1", "endpoint_url=http://h:9000/x?a=b"]) == {
        "region": "eu-west-1",
        "endpoint_url": "http://h:9000/x?a=b",
    }
