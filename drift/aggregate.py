"""Call-log aggregation in the database: GROUP BY day, routed domain, outcome and intent.

Only counts leave the database (a few rows per day, domain and intent), plus a bounded sample of turns
per day and domain for the Vosk/Whisper CER, so a 90-day report over millions of turns reads kilobytes.
Works on SQLite and PostgreSQL through the call log's SQLAlchemy tables.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from drift.reference import ALL, OOS
from drift.stats import cer

# Outcomes that answer a question the bot asked: they say nothing about what callers call about.
ANSWERS = ("confirm_yes", "confirm_no", "ending_asked")
# Outcomes the reference counts as rejected (the plain rejection rule): out of scope.
REJECTED = ("refused", "not_understood", "confirm_asked")
# Second-pass outcomes that are not a fallback to Vosk's text.
SECOND_OK = ("used", "off")
DAY = 86400.0


@dataclass
class Counts:
    """What one window (a day, or several summed) of one scope holds."""

    labels: Counter[str] = field(default_factory=Counter)  # mapped labels of text turns
    asked: int = 0  # confirmation questions asked ...
    declined: int = 0  # ... that the caller said no to
    confidence: np.ndarray | None = None  # top-1 confidence histogram
    speech: int = 0  # speech turns
    empty: int = 0  # ... with no text
    second: int = 0  # ... the second pass was asked about (not off)
    fallback: int = 0  # ... and its text was not used (rejected, busy, late, failed, cancelled)
    cers: list[float] = field(default_factory=list)  # Vosk vs second-pass CER of sampled turns

    @property
    def n(self) -> int:
        return sum(self.labels.values())

    @property
    def oos(self) -> int:
        return self.labels.get(OOS, 0)

    def add(self, other: Counts) -> None:
        self.labels.update(other.labels)
        self.asked += other.asked
        self.declined += other.declined
        if other.confidence is not None:
            self.confidence = (
                other.confidence.copy() if self.confidence is None else self.confidence + other.confidence
            )
        self.speech += other.speech
        self.empty += other.empty
        self.second += other.second
        self.fallback += other.fallback
        self.cers.extend(other.cers)


def label(outcome: str | None, intent: str | None, is_oos) -> str:  # noqa: ANN001 - a predicate
    """A live turn's predicted label as the reference counts it."""
    if outcome in REJECTED or not intent or is_oos(intent):
        return OOS
    return intent


def day_of(column: sa.sql.ColumnElement, offset_hours: float, dialect: str) -> sa.sql.ColumnElement:
    """The local day number (days since 1970-01-01 at `offset_hours` from UTC) of an epoch column."""
    return _floor((column + offset_hours * 3600.0) / DAY, dialect)


def _floor(expr: sa.sql.ColumnElement, dialect: str) -> sa.sql.ColumnElement:
    if dialect == "sqlite":  # CAST truncates; values here are positive
        return sa.cast(expr, sa.Integer)
    return sa.cast(sa.func.floor(expr), sa.Integer)  # PostgreSQL's CAST rounds


def aggregate(
    engine: sa.engine.Engine,
    start: float,
    end: float,
    *,
    offset_hours: float,
    bins: int,
    cer_sample: int,
    is_oos,  # noqa: ANN001 - str -> bool
) -> dict[tuple[str, int], Counts]:
    """Counts per (scope, day) of turns logged in [start, end); scope `all` sums every domain."""
    from telephony.calllog import turns_table as t

    dialect = engine.dialect.name
    day = day_of(t.c.at, offset_hours, dialect).label("day")
    dom = t.c.router_domain.label("dom")
    speech = sa.and_(t.c.kind == "speech", t.c.at >= start, t.c.at < end)
    out: dict[tuple[str, int], Counts] = {}

    def at(scope: str | None, d: int) -> list[Counts]:
        keys = [(ALL, int(d))] + ([(scope, int(d))] if scope else [])
        return [out.setdefault(k, Counts()) for k in keys]

    mix = (
        sa.select(day, dom, t.c.outcome, t.c.intent, t.c.confirm, sa.func.count().label("n"))
        .where(speech, t.c.outcome.isnot(None))
        .group_by(day, dom, t.c.outcome, t.c.intent, t.c.confirm)
    )
    conf_bin = sa.func.least if dialect == "postgresql" else sa.func.min
    bin_expr = conf_bin(_floor(t.c.intent_confidence * bins, dialect), bins - 1).label("bin")
    confidence = (
        sa.select(day, dom, bin_expr, sa.func.count().label("n"))
        .where(speech, t.c.intent_confidence.isnot(None), t.c.outcome.notin_(ANSWERS))
        .group_by(day, dom, bin_expr)
    )
    empty = sa.or_(t.c.caller_text.is_(None), t.c.caller_text == "")
    asked_second = sa.and_(t.c.second_outcome.isnot(None), t.c.second_outcome != "off")
    fell_back = sa.and_(asked_second, t.c.second_outcome.notin_(SECOND_OK))
    health = (
        sa.select(
            day,
            dom,
            sa.func.count().label("n"),
            sa.func.sum(sa.case((empty, 1), else_=0)).label("empty"),
            sa.func.sum(sa.case((asked_second, 1), else_=0)).label("second"),
            sa.func.sum(sa.case((fell_back, 1), else_=0)).label("fallback"),
        )
        .where(speech)
        .group_by(day, dom)
    )
    with engine.connect() as db:
        for d, scope, outcome, intent, confirm, n in db.execute(mix):
            for c in at(scope, d):
                if outcome in ANSWERS:
                    continue
                c.labels[label(outcome, intent, is_oos)] += n
                if outcome == "confirm_asked":
                    c.asked += n
                    c.declined += n if confirm == "no" else 0
        for d, scope, b, n in db.execute(confidence):
            for c in at(scope, d):
                if c.confidence is None:
                    c.confidence = np.zeros(bins)
                c.confidence[max(int(b), 0)] += n
        for d, scope, n, e, s, f in db.execute(health):
            for c in at(scope, d):
                c.speech += n
                c.empty += int(e or 0)
                c.second += int(s or 0)
                c.fallback += int(f or 0)
        if cer_sample > 0:
            for d, scope, vosk, second in db.execute(_cer_sample(t, day, dom, speech, cer_sample)):
                for c in at(scope, d):
                    c.cers.append(cer(second or "", vosk or ""))
    return out


def _cer_sample(t, day, dom, where, k: int) -> sa.sql.Select:  # noqa: ANN001
    """The first `k` turns per day and domain that both passes read (the second pass's text used)."""
    rank = sa.func.row_number().over(partition_by=(day, dom), order_by=t.c.id).label("rank")
    inner = (
        sa.select(day, dom, t.c.vosk_text, t.c.second_text, rank)
        .where(where, t.c.vosk_text.isnot(None), t.c.second_text.isnot(None), t.c.second_outcome == "used")
        .subquery()
    )
    return sa.select(inner.c.day, inner.c.dom, inner.c.vosk_text, inner.c.second_text).where(
        inner.c.rank <= k
    )


def refused_texts(
    engine: sa.engine.Engine, start: float, end: float, scope: str, limit: int = 5000
) -> list[tuple[str, str, int]]:
    """(text, call SID, turn) of the refused turns of a window and scope: what the words come from."""
    from telephony.calllog import turns_table as t

    text = sa.func.coalesce(t.c.parsed_text, t.c.caller_text)
    where = [t.c.kind == "speech", t.c.at >= start, t.c.at < end, t.c.outcome.in_(REJECTED)]
    if scope != ALL:
        where.append(t.c.router_domain == scope)
    query = sa.select(text, t.c.call_sid, t.c.turn).where(*where).order_by(t.c.id).limit(limit)
    with engine.connect() as db:
        return [(r[0] or "", r[1], int(r[2])) for r in db.execute(query)]
