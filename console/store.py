"""The console's tables in the call-log database: users, labels, audit entries, saved filters, background
jobs, the cookie secret.

They live beside `calls` and `turns` (telephony.calllog) so a label can point at its turn; created or
given missing columns on start by `callbot.database.ensure_schema` (a PostgreSQL advisory lock keeps
several replicas from racing).
"""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from callbot.database import create_engine, ensure_schema

metadata = sa.MetaData()
users_table = sa.Table(
    "console_users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password", sa.String(300), nullable=False),  # scrypt$n$r$p$salt$hash (console.auth)
    sa.Column("role", sa.String(16), nullable=False),  # annotator, admin
    sa.Column("created_at", sa.Float, nullable=False),
)
labels_table = sa.Table(
    "console_labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("turn_id", sa.Integer, nullable=False, index=True),  # turns.id
    sa.Column("call_sid", sa.String(64), nullable=False),
    sa.Column("turn", sa.Integer, nullable=False),
    sa.Column("intent", sa.String(128), nullable=False),
    sa.Column("domain", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),  # the transcript as labelled (edited or as heard)
    sa.Column("original_text", sa.Text),  # what the call log had
    sa.Column("model_intent", sa.String(128)),
    sa.Column("model_version", sa.String(64)),
    sa.Column("action", sa.String(16), nullable=False),  # accept, pick, search, out_of_scope, edit, similar
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("current", sa.Boolean, nullable=False, default=True),  # the turn's latest label
)
audit_table = sa.Table(
    "console_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("what", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("at", sa.Float, nullable=False),
)
filters_table = sa.Table(
    "console_filters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("query", sa.Text, nullable=False),  # the inbox's query string
    sa.Column("at", sa.Float, nullable=False),
)
secrets_table = sa.Table(
    "console_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)
jobs_table = sa.Table(
    "console_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False, index=True),  # train, compare
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # running, done, failed (lost: read, not stored)
    sa.Column("progress", sa.Text),  # the last output lines
    sa.Column("error", sa.Text),
    sa.Column("result", sa.Text),  # JSON (a comparison)
    sa.Column("owner", sa.String(200)),  # host:pid of the console process running it
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("ended", sa.Float),
    sa.Column("heartbeat", sa.Float, nullable=False),  # the owner's last sign of life
)
# The inbox sorts and filters turns by these; the call log itself only indexes call_sid.
_TURN_INDEXES = (
    ("ix_turns_console_at", "at"),
    ("ix_turns_console_kind_at", "kind, at"),
    ("ix_turns_console_store", "store"),  # the store filter and its choices
)


def open_engine(url: str) -> sa.engine.Engine:
    """An engine on the call-log database with the console's tables (and the call log's) in place."""
    from telephony.calllog import metadata as calllog_metadata

    engine = create_engine(url)
    ensure_schema(engine, calllog_metadata, "calllog")
    ensure_schema(engine, metadata, "console")
    with engine.begin() as db:
        for name, columns in _TURN_INDEXES:
            db.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON turns ({columns})"))
    return engine


def cookie_secret(engine: sa.engine.Engine, given: str | None = None) -> bytes:
    """The key that signs session cookies: `given` (CALLBOT_CONSOLE_SECRET), else one made once and
    kept in the database, so every replica signs alike and a restart keeps people logged in."""
    if given:
        return given.encode()
    with engine.begin() as db:
        row = db.execute(sa.select(secrets_table.c.value).where(secrets_table.c.name == "cookie")).first()
        if row is not None:
            return str(row[0]).encode()
    try:
        with engine.begin() as db:
            db.execute(secrets_table.insert().values(name="cookie", value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another replica made it first
    with engine.connect() as db:
        return str(
            db.execute(sa.select(secrets_table.c.value).where(secrets_table.c.name == "cookie")).scalar_one()
        ).encode()


def audit(engine: sa.engine.Engine, user: str, what: str, detail: str = "") -> None:
    """Record an action that must be accountable (an admin unmasking text, a user added)."""
    with engine.begin() as db:
        db.execute(audit_table.insert().values(user=user, what=what, detail=detail, at=time.time()))
