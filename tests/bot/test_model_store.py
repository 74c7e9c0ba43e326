"""The model store (bot.model_store): a version published as one archive with its SHA-256, fetched
into another models folder whole or not at all, on a shared folder and on PostgreSQL."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import model_store
from bot.model_store import FolderStore, ModelStoreError, PostgresStore, ensure_version, store_setting
from bot.models import list_versions, load_model_set, write_manifest
from callbot.config import Config, ConfigError


def _version(models_dir: Path, version: str = "v1") -> Path:
    """A complete version folder: archives of random bytes, the manifest, an stt/ folder with a link."""
    directory = models_dir / version
    (directory / "stt" / "domain" / "graph").mkdir(parents=True)
    for name in ("router", "store"):
        (directory / f"{name}.tar.gz").write_bytes(os.urandom(3000))
    (directory / "stt" / "domain" / "graph" / "Gr.fst").write_bytes(os.urandom(500))
    (directory / "stt" / "domain" / "README").symlink_to(models_dir.parent / "bundled-model-readme")
    write_manifest(directory, {"version": version, "models": {"router": "", "store": ""}})
    return directory


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in files_a:
        if (a / rel).is_symlink():
            assert os.readlink(b / rel) == os.readlink(a / rel)
        elif (a / rel).is_file():
            assert (a / rel).read_bytes() == (b / rel).read_bytes()


def _nothing_fetched(models_dir: Path) -> None:
    """The models folder holds no version and no leftover of the fetch."""
    assert list_versions(models_dir) == []
    assert not models_dir.exists() or list(models_dir.iterdir()) == []


@pytest.fixture(params=["folder", "postgresql"])
def store(request, tmp_path, monkeypatch):
    monkeypatch.setattr(model_store, "CHUNK_BYTES", 1024)  # several chunks per archive
    if request.param == "folder":
        yield FolderStore(tmp_path / "store")
        return
    schema = request.getfixturevalue("postgres_schema")
    s = PostgresStore(schema.url())
    yield s
    s.close()


def test_a_published_version_is_fetched_whole_into_an_empty_models_folder(store, tmp_path):
    source = _version(tmp_path / "a")
    info = store.publish(tmp_path / "a", "v1")
    assert store.versions() == ["v1"] and store.info("v1") == info and len(info.sha256) == 64
    assert store.publish(tmp_path / "a", "v1") == info  # versions are immutable: published once

    replica = tmp_path / "b" / "models"
    fetched = ensure_version(store, replica, "v1")
    assert fetched == replica / "v1"
    _same_tree(source, fetched)
    assert load_model_set(replica, "v1").version == "v1"
    assert os.listdir(replica) == ["v1"]  # no temporary folder left


def test_a_missing_version_is_an_error_naming_it_and_the_store(store, tmp_path):
    with pytest.raises(ModelStoreError, match=r"v9 is not in the model store") as info:
        store.fetch("v9", tmp_path / "models")
    assert store.describe() in str(info.value)
    _nothing_fetched(tmp_path / "models")
    with pytest.raises(ModelStoreError, match="v9 is not in .* and no model store is configured"):
        ensure_version(None, tmp_path / "models", "v9")


def test_an_archive_whose_checksum_does_not_match_is_rejected_and_nothing_is_unpacked(store, tmp_path):
    _version(tmp_path / "a")
    store.publish(tmp_path / "a", "v1")
    if isinstance(store, FolderStore):
        [path] = store.root.glob("v1.*.tar")
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        with store.engine.begin() as db:
            db.execute(sa.text("UPDATE model_archive_chunks SET data = :d WHERE n = 1"), {"d": b"x" * 1024})
    replica = tmp_path / "b" / "models"
    with pytest.raises(ModelStoreError, match="model version v1 from the model store .* is corrupt: SHA-256"):
        store.fetch("v1", replica)
    _nothing_fetched(replica)


def test_a_publication_that_fails_midway_is_never_visible(store, tmp_path, monkeypatch):
    _version(tmp_path / "a")
    reads = [0]
    armed = []  # once the checksum is made: the archive is being stored
    real_open, real_sha256 = Path.open, model_store._sha256

    def sha256(path):  # noqa: ANN001, ANN202
        digest = real_sha256(path)
        armed.append(True)
        return digest

    def breaking_open(self, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
        f = real_open(self, mode, *args, **kwargs)
        if armed and self.name == "v1.tar" and "r" in mode and "b" in mode:  # the packed archive
            real_read = f.read

            def read(n=-1):  # noqa: ANN001, ANN202
                reads[0] += 1
                if reads[0] > 2:  # the archive is being stored: the disk or the database goes away
                    raise OSError("device lost")
                return real_read(n)

            f.read = read
        return f

    monkeypatch.setattr(Path, "open", breaking_open)
    monkeypatch.setattr(model_store, "_sha256", sha256)
    with pytest.raises((ModelStoreError, OSError)):
        store.publish(tmp_path / "a", "v1")
    monkeypatch.undo()
    assert reads[0] > 2  # it failed after part of the archive was written
    assert store.info("v1") is None and store.versions() == []
    with pytest.raises(ModelStoreError, match="not in the model store"):
        store.fetch("v1", tmp_path / "b")
    _nothing_fetched(tmp_path / "b")
    store.publish(tmp_path / "a", "v1")  # published again, whole
    _same_tree(tmp_path / "a" / "v1", store.fetch("v1", tmp_path / "c"))


def test_a_fetch_that_fails_while_unpacking_leaves_no_version_folder(store, tmp_path, monkeypatch):
    _version(tmp_path / "a")
    store.publish(tmp_path / "a", "v1")
    real_extract = tarfile.TarFile.extractall

    def half_extract(self, path, *args, **kwargs):  # noqa: ANN001, ANN202
        members = self.getmembers()
        real_extract(self, path, members=members[: len(members) // 2], **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(tarfile.TarFile, "extractall", half_extract)
    replica = tmp_path / "b" / "models"
    with pytest.raises(OSError, match="disk full"):
        store.fetch("v1", replica)
    _nothing_fetched(replica)


def test_the_setting_names_a_folder_a_url_or_none(tmp_path):
    def setting(value):  # noqa: ANN001, ANN202
        return store_setting(Config(path=tmp_path / "callbot.yml", raw={"models": {"store": value}}))

    assert setting("none") == "none"
    assert setting("shared/models") == str(tmp_path / "shared" / "models")
    assert setting("postgresql://db/models") == "postgresql://db/models"
    with pytest.raises(ConfigError, match=r"models.store: 's3://bucket' is not a store"):
        setting("s3://bucket")
    with pytest.raises(ConfigError, match=r"models.stor: unknown key"):
        store_setting(Config(path=tmp_path / "callbot.yml", raw={"models": {"stor": "x"}}))


def test_a_replica_starting_without_a_current_version_adopts_the_promoted_one(store, tmp_path):
    from bot.model_store import adopt_current
    from bot.models import read_current_version, switch_current

    for version in ("v1", "v2"):
        _version(tmp_path / "a", version)
        store.publish(tmp_path / "a", version)
    replica = tmp_path / "b" / "models"
    assert store.current() is None and adopt_current(store, replica) is None  # nothing promoted yet
    store.set_current("v1")
    store.set_current("v2")
    assert store.current() == "v2"
    assert adopt_current(store, replica) == "v2"
    assert read_current_version(replica) == "v2" and list_versions(replica) == ["v2"]
    switch_current(replica, "v2")
    store.set_current("v1")
    assert adopt_current(store, replica) is None  # a replica with its own current keeps it
    assert read_current_version(replica) == "v2"
