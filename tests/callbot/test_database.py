"""Schema creation and migration on PostgreSQL: missing columns are added, replicas may start at once."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from callbot.database import create_engine, ensure_schema


def _metadata(extra: bool) -> sa.MetaData:
    metadata = sa.MetaData()
    columns = [sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20))]
    if extra:
        columns += [sa.Column("whisper_text", sa.Text), sa.Column("used", sa.String(16))]
    sa.Table("things", metadata, *columns)
    return metadata


def test_new_columns_need_only_their_definition(postgres_schema) -> None:  # noqa: ANN001
    engine = create_engine(postgres_schema.url())
    try:
        assert ensure_schema(engine, _metadata(extra=False), "things") == []
        with engine.begin() as db:
            db.execute(sa.text("INSERT INTO things (name) VALUES ('old row')"))
        assert ensure_schema(engine, _metadata(extra=True), "things") == [
            "things.whisper_text",
            "things.used",
        ]
        assert ensure_schema(engine, _metadata(extra=True), "things") == []
        with engine.connect() as db:
            assert db.execute(sa.text("SELECT name, whisper_text FROM things")).one() == ("old row", None)
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_once(postgres_schema) -> None:  # noqa: ANN001
    engines = [create_engine(postgres_schema.url()) for _ in range(4)]
    results: list[object] = []

    def start(engine: sa.engine.Engine) -> None:
        try:
            results.append(ensure_schema(engine, _metadata(extra=True), "things"))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            results.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for e in engines:
        e.dispose()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r) for r in results) == [0, 0, 0, 0]  # created at once, nothing to add after
