"""The model store: where a replica fetches a model version its own models folder lacks (`models.store`).

A version is published as one tar archive of its folder (`models/<version>/`, the stt/ sub-folder
included) with a manifest: the archive's SHA-256 and size. A replica asked to reload a version it does
not have fetches the archive, checks its SHA-256, unpacks it into `models/.tmp-fetch-*` and renames that
to `models/<version>`: a version folder is never seen half-written. A missing version or a wrong
checksum raises `ModelStoreError` naming the version and the store; nothing in the models folder changes.

Backends are chosen by the value of `models.store`: `none` (no store: the models folder must be shared),
a folder path (a shared file system: `<folder>/<version>.tar` + `<version>.json`), or a PostgreSQL URL
(tables `model_archives` and `model_archive_chunks`, one transaction per version). Versions are
immutable: publishing a version the store already holds does nothing. The store also records the
version the last promotion made current: a replica that starts without `models/current` adopts it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tarfile
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from bot.models import MANIFEST, TMP_PREFIX
from callbot.config import Config

logger = logging.getLogger(__name__)
CHUNK_BYTES = 8 * 1024 * 1024  # read, hash and store archives this much at a time


class ModelStoreError(Exception):
    """A version cannot be published to or fetched from the store (missing, corrupt, unreachable)."""


@dataclass(frozen=True)
class ArchiveInfo:
    """The manifest of one published version."""

    version: str
    sha256: str
    size: int
    published_at: float


class ModelStore(ABC):
    """One place versions are published to and fetched from."""

    @abstractmethod
    def describe(self) -> str:
        """The store as messages name it (no password)."""

    @abstractmethod
    def info(self, version: str) -> ArchiveInfo | None:
        """The manifest of `version`, None when the store does not hold it (a half-written one included)."""

    @abstractmethod
    def versions(self) -> list[str]:
        """Every published version, oldest first."""

    @abstractmethod
    def current(self) -> str | None:
        """The version the last promotion made current (a replica starting without one serves it)."""

    @abstractmethod
    def set_current(self, version: str) -> None:
        """Record a promotion (the version must be published)."""

    @abstractmethod
    def _put(self, archive: Path, info: ArchiveInfo) -> None:
        """Store the archive and its manifest so that readers see both or neither."""

    @abstractmethod
    def _read(self, info: ArchiveInfo) -> Iterator[bytes]:
        """The archive's bytes, in order."""

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release connections (the store is unusable afterwards)."""

    def publish(self, models_dir: Path, version: str) -> ArchiveInfo:
        """Pack `models/<version>/` into one archive and store it with its checksum (blocking)."""
        known = self.info(version)
        if known is not None:
            return known
        directory = models_dir / version
        if not (directory / MANIFEST).is_file():
            raise ModelStoreError(f"cannot publish {version}: {directory} is not a complete model version")
        with tempfile.TemporaryDirectory(prefix="callbot-publish-") as tmp:
            archive = Path(tmp) / f"{version}.tar"
            with tarfile.open(archive, "w") as tar:
                tar.add(directory, arcname=version)  # symlinks stay links (stt/ links the bundled model)
            info = ArchiveInfo(version, _sha256(archive), archive.stat().st_size, time.time())
            try:
                self._put(archive, info)
            except ModelStoreError:
                if (other := self.info(version)) is not None:  # published meanwhile by another process
                    return other
                raise
        logger.info(
            "bot.model_store.published version=%s bytes=%d store=%s", version, info.size, self.describe()
        )
        return info

    def fetch(self, version: str, models_dir: Path) -> Path:
        """`models/<version>`, fetched from the store when missing: checksum verified, unpacked atomically."""
        target = models_dir / version
        if (target / MANIFEST).is_file():
            return target
        info = self.info(version)
        if info is None:
            raise ModelStoreError(f"model version {version} is not in the model store {self.describe()}")
        models_dir.mkdir(parents=True, exist_ok=True)
        tmp = models_dir / f"{TMP_PREFIX}fetch-{version}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            archive = tmp / "archive.tar"
            digest = hashlib.sha256()
            with archive.open("wb") as out:
                for chunk in self._read(info):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != info.sha256:
                raise ModelStoreError(
                    f"model version {version} from the model store {self.describe()} is corrupt: SHA-256 "
                    f"{digest.hexdigest()}, the manifest says {info.sha256}"
                )
            _unpack(archive, tmp, version)
            unpacked = tmp / version
            if not (unpacked / MANIFEST).is_file():
                raise ModelStoreError(
                    f"model version {version} from the model store {self.describe()} has no {MANIFEST}"
                )
            try:
                os.rename(unpacked, target)  # atomic; fails if another fetch put it there meanwhile
            except OSError:
                if not (target / MANIFEST).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        logger.info(
            "bot.model_store.fetched version=%s bytes=%d store=%s", version, info.size, self.describe()
        )
        return target


class FolderStore(ModelStore):
    """A folder every replica sees (NFS, a mounted volume): `<version>.<sha256 prefix>.tar` and
    `<version>.json`. The archive is written under a temporary name and renamed, then the manifest the
    same way: a version whose manifest is there is complete, and the archive it names is the one it
    describes (two processes publishing one version at once each leave a whole pair)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def info(self, version: str) -> ArchiveInfo | None:
        path = self.root / f"{version}.json"
        try:
            return ArchiveInfo(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise ModelStoreError(f"{path}: unreadable manifest of version {version}: {exc}") from exc

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if not p.name.startswith("."))

    def current(self) -> str | None:
        try:
            return (self.root / "current").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ModelStoreError(f"model store {self.root}: cannot read its current version: {exc}") from exc

    def set_current(self, version: str) -> None:
        try:
            _write_atomic(self.root / "current", lambda out: out.write(version.encode() + b"\n"))
        except OSError as exc:
            raise ModelStoreError(
                f"model store {self.root}: cannot record {version} as current: {exc}"
            ) from exc

    def _put(self, archive: Path, info: ArchiveInfo) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_atomic(self._archive(info), lambda out: _copy(archive, out))
            body = json.dumps(asdict(info), indent=2).encode()
            _write_atomic(self.root / f"{info.version}.json", lambda out: out.write(body))
        except OSError as exc:
            raise ModelStoreError(
                f"cannot publish {info.version} to the model store {self.root}: {exc}"
            ) from exc

    def _archive(self, info: ArchiveInfo) -> Path:
        return self.root / f"{info.version}.{info.sha256[:16]}.tar"

    def _read(self, info: ArchiveInfo) -> Iterator[bytes]:
        path = self._archive(info)
        try:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk
        except OSError as exc:
            raise ModelStoreError(
                f"model version {info.version}: cannot read {path} in the model store: {exc}"
            ) from exc


class PostgresStore(ModelStore):
    """Archives in PostgreSQL: `model_archives` (version, sha256, size, chunks, published_at) and
    `model_archive_chunks` (version, n, data bytea of `CHUNK_BYTES` at most). One transaction writes
    a version's chunks and then its row, so a reader sees a whole version or none."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        from callbot.database import DatabaseError, create_engine, ensure_schema, safe_url

        self.url = safe_url(url)
        metadata = sa.MetaData()
        self.archives = sa.Table(
            "model_archives",
            metadata,
            sa.Column("version", sa.String(64), primary_key=True),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("size", sa.BigInteger, nullable=False),
            sa.Column("chunks", sa.Integer, nullable=False),
            sa.Column("published_at", sa.Float, nullable=False),
        )
        self.chunks = sa.Table(
            "model_archive_chunks",
            metadata,
            sa.Column("version", sa.String(64), primary_key=True),
            sa.Column("n", sa.Integer, primary_key=True),
            sa.Column("data", sa.LargeBinary, nullable=False),
        )
        self.pointer = sa.Table(  # one row: the version the last promotion made current
            "model_store_current",
            metadata,
            sa.Column("name", sa.String(16), primary_key=True),
            sa.Column("version", sa.String(64), nullable=False),
        )
        try:
            self.engine = create_engine(url)
            ensure_schema(self.engine, metadata, "model_store")
        except (DatabaseError, sa.exc.SQLAlchemyError) as exc:
            raise ModelStoreError(f"model store {self.url} unusable: {exc}") from exc

    def describe(self) -> str:
        return self.url

    def info(self, version: str) -> ArchiveInfo | None:
        import sqlalchemy as sa

        a = self.archives.c
        with self._db("read") as db:
            row = db.execute(
                sa.select(a.version, a.sha256, a.size, a.published_at).where(a.version == version)
            ).first()
        return ArchiveInfo(row.version, row.sha256, int(row.size), float(row.published_at)) if row else None

    def versions(self) -> list[str]:
        import sqlalchemy as sa

        with self._db("list") as db:
            return sorted(db.execute(sa.select(self.archives.c.version)).scalars())

    def current(self) -> str | None:
        import sqlalchemy as sa

        with self._db("read the current version of") as db:
            return db.execute(
                sa.select(self.pointer.c.version).where(self.pointer.c.name == "current")
            ).scalar_one_or_none()

    def set_current(self, version: str) -> None:
        from sqlalchemy.dialects.postgresql import insert

        upsert = insert(self.pointer).values(name="current", version=version)
        upsert = upsert.on_conflict_do_update(index_elements=["name"], set_={"version": version})
        with self._db(f"record {version} as current in") as db, db.begin():
            db.execute(upsert)

    def _put(self, archive: Path, info: ArchiveInfo) -> None:
        with self._db(f"publish {info.version} to") as db, db.begin(), archive.open("rb") as f:
            n = 0
            while chunk := f.read(CHUNK_BYTES):
                db.execute(self.chunks.insert().values(version=info.version, n=n, data=chunk))
                n += 1
            db.execute(self.archives.insert().values(**asdict(info), chunks=n))

    def _read(self, info: ArchiveInfo) -> Iterator[bytes]:
        import sqlalchemy as sa

        c = self.chunks.c
        with self._db(f"fetch {info.version} from") as db:
            n = 0
            while True:  # one chunk in memory at a time
                data = db.execute(
                    sa.select(c.data).where(c.version == info.version, c.n == n)
                ).scalar_one_or_none()
                if data is None:
                    return
                yield bytes(data)
                n += 1

    def close(self) -> None:
        self.engine.dispose()

    def _db(self, what: str) -> Any:
        return _Connection(self, what)


class _Connection:
    """A connection whose database errors become `ModelStoreError`s naming the store."""

    def __init__(self, store: PostgresStore, what: str) -> None:
        self.store, self.what = store, what

    def __enter__(self) -> Any:
        import sqlalchemy as sa

        try:
            self.db = self.store.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise ModelStoreError(f"model store {self.store.url} unreachable: {exc}") from exc
        return self.db

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        import sqlalchemy as sa

        self.db.close()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise ModelStoreError(f"cannot {self.what} the model store {self.store.url}: {exc}") from exc


STORES: dict[str, type[ModelStore]] = {"folder": FolderStore, "postgresql": PostgresStore}


def store_kind(value: str) -> str:
    """The backend a `models.store` value names: `none`, `postgresql` (a URL) or `folder` (a path)."""
    if value.strip().lower() in ("", "none"):
        return "none"
    if "://" in value:
        return value.split("://", 1)[0].split("+", 1)[0]
    return "folder"


def store_setting(config: Config) -> str:
    """`models.store` checked (raises `ConfigError`): `none`, a URL, or a folder path made absolute."""
    r = config.reader("models")
    value = r.str("store", "none")
    kind = store_kind(value) if isinstance(value, str) else "none"
    if kind not in ("none", *STORES):
        r.error("store", f"{value!r} is not a store: none, a folder path, or postgresql://...")
    r.done(known=("store",))
    return str(config.resolve(value)) if kind == "folder" else value


def open_store(config: Config) -> ModelStore | None:
    """The store `models.store` configures, None for `none` (the default)."""
    return store_from_value(store_setting(config))


def store_from_value(value: str) -> ModelStore | None:
    """The store of a `store_setting` value (PostgreSQL: connects and creates its tables)."""
    kind = store_kind(value)
    if kind == "none":
        return None
    if kind == "folder":
        return FolderStore(Path(value))
    return STORES[kind](value)  # type: ignore[call-arg]


def ensure_version(store: ModelStore | None, models_dir: Path, version: str) -> Path:
    """`models/<version>`, fetched from the store when this models folder lacks it (blocking)."""
    if (models_dir / version / MANIFEST).is_file():
        return models_dir / version
    if store is None:
        raise ModelStoreError(
            f"model version {version} is not in {models_dir} and no model store is configured (models.store)"
        )
    return store.fetch(version, models_dir)


def adopt_current(store: ModelStore | None, models_dir: Path) -> str | None:
    """A replica starting without `models/current` (its own, empty models folder): the store's current
    version, fetched and made current here. Returns it, or None when there is nothing to adopt."""
    from bot.models import read_current_version, switch_current

    if store is None or read_current_version(models_dir) is not None:
        return None
    version = store.current()
    if version is None:
        return None
    store.fetch(version, models_dir)
    switch_current(models_dir, version)
    logger.info("bot.model_store.adopted version=%s store=%s", version, store.describe())
    return version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(source: Path, out: IO[bytes]) -> None:
    with source.open("rb") as f:
        shutil.copyfileobj(f, out, CHUNK_BYTES)


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{secrets.token_hex(4)}")
    try:
        with tmp.open("wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _unpack(archive: Path, into: Path, version: str) -> None:
    """Extract `archive`; every member must lie under `<version>/` (no absolute paths, no `..`)."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if member.name.startswith("/") or ".." in parts or not parts or parts[0] != version:
                raise ModelStoreError(
                    f"model version {version}: archive member {member.name!r} is outside it"
                )
        tar.extractall(into, filter="tar")
