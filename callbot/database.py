"""SQL databases shared by the call log and the reservations: engines, schema creation and migration.

SQLite under `paths.state_dir` by default; any SQLAlchemy 1.4 URL (postgresql://...) switches. Several
replicas may start at once against one PostgreSQL database: schema work then runs under a
transaction-level advisory lock, so one replica creates the tables and adds missing columns while the
others wait and then find nothing to do. A table's new columns need only their definition in the
`sa.Table`: `ensure_schema` adds what an existing database lacks (nullable, no data).
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

logger = logging.getLogger(__name__)
CONNECT_TIMEOUT_SECONDS = 3  # an unreachable server fails a write this soon instead of hanging


class DatabaseError(Exception):
    """A database URL is invalid or its schema cannot be created."""


def create_engine(url: str) -> sa.engine.Engine:
    """An engine for `url`: SQLite files get their folder and cross-thread use; servers get a connect
    timeout and pre-ping (a connection broken by a server restart is replaced, not handed out)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL {url!r}: {exc}") from exc
    kwargs: dict[str, Any] = {"future": True}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["poolclass"] = sa.pool.StaticPool  # one shared in-memory database
    else:
        kwargs["pool_pre_ping"] = True
        if backend == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    try:
        return sa.create_engine(parsed, **kwargs)
    except (SQLAlchemyError, ImportError) as exc:
        raise DatabaseError(f"cannot use database {safe_url(url)}: {exc}") from exc


def ensure_schema(engine: sa.engine.Engine, metadata: sa.MetaData, name: str) -> list[str]:
    """Create missing tables and add missing columns; returns the `table.column`s added.

    `name` keys the PostgreSQL advisory lock (one per schema owner: "calllog", "reservations").
    """
    with engine.begin() as db:
        if engine.dialect.name == "postgresql":
            db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})
        metadata.create_all(db)
        inspector = sa.inspect(db)
        added = []
        for table in metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
            for column in table.columns:
                if column.name in have:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                db.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
                added.append(f"{table.name}.{column.name}")
    if added:
        logger.info("callbot.database.migrated url=%s added=%s", safe_url(str(engine.url)), ",".join(added))
    return added


def ping(engine: sa.engine.Engine) -> None:
    """Raise `SQLAlchemyError` unless the database answers a trivial query."""
    with engine.connect() as db:
        db.execute(sa.text("SELECT 1"))


def safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<invalid database URL>"


def _lock_key(name: str) -> int:
    return zlib.crc32(f"callbot-schema:{name}".encode())
