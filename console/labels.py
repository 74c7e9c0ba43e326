"""Operator labels: stored with who, when, the model's reading and the original text; read back as
training data (`data build`, provenance `operator`), as CSV, and checked against the build's examples.
"""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from console import ConsoleError
from console.store import labels_table
from data.clean import dedupe_key, normalize
from data.near_duplicates import NearDuplicates
from data.pii import mask_pii
from telephony.calllog import turns_table

ACTIONS = ("accept", "pick", "search", "out_of_scope", "edit", "similar")
MAX_TEXT = 500
SIMILAR_POOL = 5000  # unlabelled turns (newest) searched for near duplicates
EXPORT_COLUMNS = [
    "label_id",
    "call_sid",
    "turn",
    "text",
    "intent",
    "domain",
    "original_text",
    "model_intent",
    "model_version",
    "action",
    "user",
    "at",
]


@dataclass(frozen=True)
class IntentInfo:
    name: str
    domain: str
    examples: tuple[str, ...]  # a few real examples: what `/` search matches in Hangul


class IntentCatalog:
    """The intents a label may name, with their domains: the intents of the last `data build`."""

    def __init__(self, intents: list[IntentInfo]) -> None:
        self.intents = sorted(intents, key=lambda i: (i.domain, i.name))
        self._by_name = {i.name: i for i in self.intents}

    @classmethod
    def from_build(cls, build_dir: Path) -> IntentCatalog:
        """Read `build/examples.csv` (empty when no build has run yet)."""
        path = build_dir / "examples.csv"
        if not path.exists():
            return cls([])
        domains: dict[str, str] = {}
        examples: dict[str, list[str]] = defaultdict(list)
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                intent = row.get("intent") or ""
                if not intent:
                    continue
                domains.setdefault(intent, row.get("domain") or "")
                if row.get("kind") == "real" and len(examples[intent]) < 5:
                    examples[intent].append(row.get("text") or "")
        return cls([IntentInfo(n, d, tuple(examples[n])) for n, d in domains.items()])

    def domain_of(self, intent: str) -> str:
        info = self._by_name.get(intent)
        if info is None:
            known = ", ".join(i.name for i in self.intents[:20]) or "none: run `callbot data build`"
            raise ConsoleError(f"unknown intent {intent!r} (intents of build/examples.csv: {known})")
        return info.domain

    def __contains__(self, intent: str) -> bool:
        return intent in self._by_name


def record_label(
    engine: sa.engine.Engine,
    catalog: IntentCatalog,
    turn_ids: list[int],
    intent: str,
    action: str,
    user: str,
    text: str | None = None,
) -> list[dict[str, Any]]:
    """Label turns (one, or a near-duplicate cluster): each becomes the turn's current label, earlier
    labels of the turn are kept as history. `text` (an edited transcript) is PII-masked first."""
    if action not in ACTIONS:
        raise ConsoleError(f"label action {action!r}: expected one of {', '.join(ACTIONS)}")
    domain = catalog.domain_of(intent)
    edited = None
    if text is not None:
        edited = normalize(mask_pii(text)[0])
        if not edited:
            raise ConsoleError("the edited transcript is empty")
        if len(edited) > MAX_TEXT:
            raise ConsoleError(f"the edited transcript has {len(edited)} characters (at most {MAX_TEXT})")
    now = time.time()
    stored = []
    with engine.begin() as db:
        rows = db.execute(sa.select(turns_table).where(turns_table.c.id.in_(turn_ids))).mappings().all()
        found = {r["id"]: r for r in rows}
        missing = [i for i in turn_ids if i not in found]
        if missing:
            raise ConsoleError(f"no turn {', '.join(map(str, missing))} in the call log")
        for turn_id in turn_ids:
            turn = found[turn_id]
            heard = turn["caller_text"] or ""
            label_text = edited if edited is not None else heard
            if not label_text:
                raise ConsoleError(f"turn {turn_id} has no transcript: edit it (e) before labelling")
            db.execute(
                labels_table.update()
                .where(labels_table.c.turn_id == turn_id, labels_table.c.current.is_(True))
                .values(current=False)
            )
            values = {
                "turn_id": turn_id,
                "call_sid": turn["call_sid"],
                "turn": turn["turn"],
                "intent": intent,
                "domain": domain,
                "text": label_text,
                "original_text": heard,
                "model_intent": turn["intent"],
                "model_version": turn["bot_version"],
                "action": action,
                "user": user,
                "at": now,
                "current": True,
            }
            label_id = db.execute(labels_table.insert().values(**values)).inserted_primary_key[0]
            stored.append({"id": label_id, **values})
    return stored


def similar_turns(
    engine: sa.engine.Engine, turn_id: int, threshold: float | None = None
) -> list[dict[str, Any]]:
    """Unlabelled caller turns whose text is a near duplicate of this turn's (jamo n-grams), this one
    first: what "apply to similar" labels."""
    t = turns_table.c
    with engine.connect() as db:
        base = db.execute(sa.select(t.caller_text).where(t.id == turn_id)).first()
        if base is None:
            raise ConsoleError(f"no turn {turn_id} in the call log")
        labelled = sa.select(labels_table.c.turn_id).where(labels_table.c.current.is_(True))
        pool = db.execute(
            sa.select(t.id, t.caller_text, t.intent, t.call_sid)
            .where(t.kind == "speech", sa.func.coalesce(t.caller_text, "") != "", t.id.not_in(labelled))
            .order_by(t.at.desc())
            .limit(SIMILAR_POOL)
        ).all()
    text = base[0] or ""
    if not text:
        return []
    index = NearDuplicates([r.caller_text for r in pool], **({"threshold": threshold} if threshold else {}))
    out = [
        {"id": pool[i].id, "text": pool[i].caller_text, "intent": pool[i].intent, "similarity": round(s, 3)}
        for i, s in index.similar(text)
    ]
    out.sort(key=lambda r: (r["id"] != turn_id, -r["similarity"]))
    return out


def current_labels(
    engine: sa.engine.Engine, before: float | None = None, since: float | None = None
) -> list[dict[str, Any]]:
    """Every turn's latest label, oldest first (only those given before / since a time, when asked)."""
    query = sa.select(labels_table).where(labels_table.c.current.is_(True)).order_by(labels_table.c.id)
    if before is not None:
        query = query.where(labels_table.c.at < before)
    if since is not None:
        query = query.where(labels_table.c.at >= since)
    with engine.connect() as db:
        rows = db.execute(query).mappings()
        return [dict(r) for r in rows]


def labels_for_build(database_url: str, before: float | None = None) -> list[dict[str, Any]]:
    """The current labels for `data build` (given `before` a time: the rest is held out for comparing
    models), read without creating anything: none when the database or its labels table does not exist
    yet (a SQLite file is not made by reading it)."""
    from sqlalchemy.engine import make_url

    from callbot.database import create_engine

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).exists():
            return []
    engine = create_engine(database_url)
    try:
        if not sa.inspect(engine).has_table(labels_table.name):
            return []
        return current_labels(engine, before=before)
    except sa.exc.SQLAlchemyError as exc:
        from callbot.database import DatabaseError, safe_url

        raise DatabaseError(f"cannot read labels from {safe_url(database_url)}: {exc}") from exc
    finally:
        engine.dispose()


def export_csv(engine: sa.engine.Engine) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for label in current_labels(engine):
        writer.writerow({**label, "label_id": label["id"]})
    return out.getvalue()


def conflicts(engine: sa.engine.Engine, build_dir: Path) -> list[dict[str, Any]]:
    """Labels that disagree with the build's real examples, or with each other, on the same text."""
    examples: dict[str, tuple[str, str]] = {}
    path = build_dir / "examples.csv"
    if path.exists():
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row.get("kind") == "real" and row.get("source", "").split(":")[0] != "operator":
                    examples.setdefault(dedupe_key(row["text"]), (row["intent"], row.get("source", "")))
    found = []
    by_text: dict[str, dict[str, Any]] = {}
    for label in current_labels(engine):
        key = dedupe_key(label["text"])
        known = examples.get(key)
        if known is not None and known[0] != label["intent"]:
            found.append({**label, "other_intent": known[0], "other_source": known[1]})
        first = by_text.setdefault(key, label)
        if first["intent"] != label["intent"]:
            found.append({**label, "other_intent": first["intent"], "other_source": f"label {first['id']}"})
    return found
