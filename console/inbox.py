"""The review inbox: caller turns from the call log, riskiest first, filtered and paged in SQL.

Risk is a weighted sum the database computes per turn (`RiskRules`): a refusal, a confirmation the
caller declined, nothing understood, low intent confidence, an unsure router, the two recognizers
disagreeing, a second pass that came late or was rejected, an empty transcript. Sorting 10,000 turns by
it is one indexed scan and a sort in the database; only a page of rows comes back.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from console import ConsoleError
from console.store import labels_table
from telephony.calllog import turns_table

PAGE_SIZE = 50
OUTCOMES = (
    "accepted",
    "form",
    "refused",
    "not_understood",
    "confirm_asked",
    "confirm_yes",
    "confirm_no",
    "ending_asked",
)
STATUSES = ("unlabelled", "labelled", "all")


@dataclass(frozen=True)
class RiskRules:
    """Weights of each risk and the confidence limits under which a turn counts as doubtful."""

    low_confidence: float = 0.5
    router_unsure: float = 0.6
    weights: dict[str, int] = field(
        default_factory=lambda: {
            "refused": 5,
            "confirm_declined": 4,
            "not_understood": 4,
            "empty_text": 3,
            "low_confidence": 3,
            "router_unsure": 2,
            "recognizers_disagree": 2,
            "second_pass_late": 1,
        }
    )


@dataclass(frozen=True)
class InboxFilter:
    """What the operator asked to see; built from the page's query string by `parse_filter`."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    domain: str = ""
    store: str = ""  # the store the turn was about (the call log's `store`, telephony.store_slot)
    intent: str = ""
    outcome: str = ""
    conf_min: float | None = None
    conf_max: float | None = None
    status: str = "unlabelled"
    call_sid: str = ""
    text: str = ""  # a word the caller's text contains (the drift page links its new words here)
    page: int = 1

    def query(self, **changes: Any) -> dict[str, str]:
        """The filter as query parameters (for links to other pages of it)."""
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "domain": self.domain,
            "store": self.store,
            "intent": self.intent,
            "outcome": self.outcome,
            "conf_min": "" if self.conf_min is None else f"{self.conf_min:g}",
            "conf_max": "" if self.conf_max is None else f"{self.conf_max:g}",
            "status": self.status,
            "text": self.text,
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}


def parse_filter(params: dict[str, str]) -> InboxFilter:
    """An `InboxFilter` from query parameters; every bad parameter is named in one `ConsoleError`."""
    problems: list[str] = []

    def date(key: str) -> dt.date | None:
        value = params.get(key, "").strip()
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            problems.append(f"{key}={value!r}: expected a date like 2026-12-07")
            return None

    def number(key: str) -> float | None:
        value = params.get(key, "").strip()
        if not value:
            return None
        try:
            n = float(value)
        except ValueError:
            n = -1.0
        if not 0.0 <= n <= 1.0:
            problems.append(f"{key}={value!r}: expected a confidence between 0 and 1")
            return None
        return n

    outcome = params.get("outcome", "").strip()
    if outcome and outcome not in OUTCOMES:
        problems.append(f"outcome={outcome!r}: expected one of {', '.join(OUTCOMES)}")
    status = params.get("status", "").strip() or "unlabelled"
    if status not in STATUSES:
        problems.append(f"status={status!r}: expected one of {', '.join(STATUSES)}")
    page_text = params.get("page", "1").strip() or "1"
    page = int(page_text) if page_text.isdigit() and int(page_text) >= 1 else 0
    if not page:
        problems.append(f"page={page_text!r}: expected a page number from 1")
    result = InboxFilter(
        date_from=date("date_from"),
        date_to=date("date_to"),
        domain=params.get("domain", "").strip(),
        store=params.get("store", "").strip(),
        intent=params.get("intent", "").strip(),
        outcome=outcome,
        conf_min=number("conf_min"),
        conf_max=number("conf_max"),
        status=status,
        call_sid=params.get("call_sid", "").strip(),
        text=params.get("text", "").strip(),
        page=page or 1,
    )
    if problems:
        raise ConsoleError("; ".join(problems))
    return result


@dataclass
class InboxPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def _risk_terms(rules: RiskRules) -> dict[str, sa.sql.ColumnElement[bool]]:
    t = turns_table.c
    return {
        "refused": t.outcome == "refused",
        "confirm_declined": sa.or_(t.confirm == "no", t.outcome == "confirm_no"),
        "not_understood": t.outcome == "not_understood",
        "empty_text": sa.func.coalesce(t.caller_text, "") == "",
        "low_confidence": sa.func.coalesce(t.intent_confidence, 0.0) < rules.low_confidence,
        "router_unsure": t.router_confidence < rules.router_unsure,
        "recognizers_disagree": sa.and_(
            t.vosk_text.is_not(None), t.second_text.is_not(None), t.vosk_text != t.second_text
        ),
        "second_pass_late": sa.or_(t.second_outcome == "late", t.second_outcome.like("rejected%")),
    }


def risk_expression(rules: RiskRules) -> sa.sql.ColumnElement[int]:
    terms = _risk_terms(rules)
    return sum(
        (sa.case((cond, rules.weights[name]), else_=0) for name, cond in terms.items()),
        sa.literal(0),
    )


def inbox_page(
    engine: sa.engine.Engine, flt: InboxFilter, rules: RiskRules, page_size: int = PAGE_SIZE
) -> InboxPage:
    """One page of caller turns for `flt`, riskiest first (then newest)."""
    t = turns_table.c
    current = labels_table.alias("current_label")
    risk = risk_expression(rules).label("risk")
    joined = turns_table.outerjoin(current, sa.and_(current.c.turn_id == t.id, current.c.current.is_(True)))
    where = [t.kind == "speech"]
    if flt.date_from:
        where.append(t.at >= _epoch(flt.date_from))
    if flt.date_to:
        where.append(t.at < _epoch(flt.date_to + dt.timedelta(days=1)))
    if flt.domain:
        where.append(sa.or_(t.domain == flt.domain, t.router_domain == flt.domain))
    if flt.store:
        where.append(t.store == flt.store)
    if flt.intent:
        where.append(t.intent == flt.intent)
    if flt.outcome:
        where.append(t.outcome == flt.outcome)
    if flt.conf_min is not None:
        where.append(t.intent_confidence >= flt.conf_min)
    if flt.conf_max is not None:
        where.append(t.intent_confidence <= flt.conf_max)
    if flt.call_sid:
        where.append(t.call_sid == flt.call_sid)
    if flt.text:
        where.append(t.caller_text.contains(flt.text, autoescape=True))
    if flt.status == "unlabelled":
        where.append(current.c.id.is_(None))
    elif flt.status == "labelled":
        where.append(current.c.id.is_not(None))
    columns = [
        t.id,
        t.call_sid,
        t.turn,
        t.at,
        t.caller_text,
        t.vosk_text,
        t.second_text,
        t.text_source,
        t.second_outcome,
        t.domain,
        t.intent,
        t.intent_confidence,
        t.router_domain,
        t.router_confidence,
        t.store,
        t.ranking,
        t.reply,
        t.bot_version,
        t.outcome,
        t.confirm,
        t.parsed_text,
        t.pii,
        (t.audio_path.is_not(None)).label("has_audio"),
        current.c.intent.label("label_intent"),
        current.c.user.label("label_user"),
        current.c.text.label("label_text"),
        risk,
    ]
    query = (
        sa.select(*columns)
        .select_from(joined)
        .where(*where)
        .order_by(sa.desc("risk"), t.at.desc(), t.id.desc())
        .limit(page_size)
        .offset((flt.page - 1) * page_size)
    )
    count = sa.select(sa.func.count()).select_from(joined).where(*where)
    with engine.connect() as db:
        total = int(db.execute(count).scalar_one())
        rows = [_row(dict(r), rules) for r in db.execute(query).mappings()]
    pages = max(1, -(-total // page_size))
    return InboxPage(rows, total, flt.page, pages)


def save_filter(engine: sa.engine.Engine, user: str, name: str, query: str) -> None:
    """Keep an inbox filter under a name (the same name again replaces it); the query is checked first."""
    from urllib.parse import parse_qsl

    from console.store import filters_table

    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise ConsoleError("filter name: 1-100 characters")
    parse_filter(dict(parse_qsl(query)))
    with engine.begin() as db:
        db.execute(filters_table.delete().where(filters_table.c.user == user, filters_table.c.name == name))
        db.execute(filters_table.insert().values(user=user, name=name, query=query, at=time.time()))


def saved_filters(engine: sa.engine.Engine, user: str) -> list[dict[str, Any]]:
    from console.store import filters_table

    with engine.connect() as db:
        rows = db.execute(
            sa.select(filters_table.c.name, filters_table.c.query)
            .where(filters_table.c.user == user)
            .order_by(filters_table.c.name)
        ).mappings()
        return [dict(r) for r in rows]


def known_stores(engine: sa.engine.Engine, limit: int = 200) -> list[str]:
    """The stores the call log's caller turns name (the store filter's choices), most turns first."""
    t = turns_table.c
    query = (
        sa.select(t.store)
        .where(t.kind == "speech", t.store.is_not(None))
        .group_by(t.store)
        .order_by(sa.func.count().desc(), t.store)
        .limit(limit)
    )
    with engine.connect() as db:
        return [str(s) for s in db.execute(query).scalars()]


def turn_by_id(engine: sa.engine.Engine, turn_id: int) -> dict[str, Any]:
    with engine.connect() as db:
        row = db.execute(sa.select(turns_table).where(turns_table.c.id == turn_id)).mappings().first()
    if row is None:
        raise ConsoleError(f"no turn {turn_id} in the call log")
    return dict(row)


def call_turns(engine: sa.engine.Engine, call_sid: str, rules: RiskRules) -> list[dict[str, Any]]:
    """Every turn of one call in order (all kinds: the bot's greeting and silences too), with labels."""
    t = turns_table.c
    current = labels_table.alias("current_label")
    query = (
        sa.select(
            turns_table,
            (t.audio_path.is_not(None)).label("has_audio"),
            current.c.intent.label("label_intent"),
            current.c.user.label("label_user"),
            current.c.text.label("label_text"),
            risk_expression(rules).label("risk"),
        )
        .select_from(
            turns_table.outerjoin(current, sa.and_(current.c.turn_id == t.id, current.c.current.is_(True)))
        )
        .where(t.call_sid == call_sid)
        .order_by(t.id)
    )
    with engine.connect() as db:
        rows = [_row(dict(r), rules) for r in db.execute(query).mappings()]
    if not rows:
        raise ConsoleError(f"no call {call_sid!r} in the call log")
    return rows


def _row(row: dict[str, Any], rules: RiskRules) -> dict[str, Any]:
    row.pop("audio_path", None)
    try:
        ranking = json.loads(row.get("ranking") or "[]")
        row["ranking"] = [(str(n), float(c)) for n, c in ranking]
    except (ValueError, TypeError):
        row["ranking"] = []
    row["reasons"] = risk_reasons(row, rules)
    return row


def risk_reasons(row: dict[str, Any], rules: RiskRules) -> list[str]:
    """The risks of one turn by name, as the SQL expression counts them (shown beside the row)."""
    reasons = []
    if row.get("outcome") == "refused":
        reasons.append("refused")
    if row.get("confirm") == "no" or row.get("outcome") == "confirm_no":
        reasons.append("confirm_declined")
    if row.get("outcome") == "not_understood":
        reasons.append("not_understood")
    if not row.get("caller_text"):
        reasons.append("empty_text")
    if (row.get("intent_confidence") or 0.0) < rules.low_confidence:
        reasons.append("low_confidence")
    rc = row.get("router_confidence")
    if rc is not None and rc < rules.router_unsure:
        reasons.append("router_unsure")
    vosk, second = row.get("vosk_text"), row.get("second_text")
    if vosk is not None and second is not None and vosk != second:
        reasons.append("recognizers_disagree")
    so = row.get("second_outcome") or ""
    if so == "late" or so.startswith("rejected"):
        reasons.append("second_pass_late")
    return reasons


def _epoch(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time()).timestamp()
