"""Call logs: every call and every turn persisted as it happens, PII masked before it is written.

SQLAlchemy 1.4 Core; SQLite under `paths.state_dir` by default, any SQLAlchemy URL (postgresql://...)
via `telephony.database_url`; the tables are created, or given the columns they lack, on start
(`callbot.database.ensure_schema`: a new column needs only its definition below). Writes run on one
dedicated thread (`CallLog.submit`) so the event loop never blocks on the database and SQLite sees one
writer. With a spool folder (the server) writes go through `telephony.calllog_buffer`: spooled to a
local file first, buffered while the database is down, written later; none is lost. Writes are
idempotent, so a replayed spool stores nothing twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import json
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from callbot.database import DatabaseError, create_engine, ensure_schema, safe_url
from callbot.events import Understanding
from data.pii import mask_pii
from telephony import CallLogError
from telephony.calllog_buffer import WAIT_SECONDS, WriteBuffer

logger = logging.getLogger(__name__)
T = TypeVar("T")

metadata = sa.MetaData()
calls_table = sa.Table(
    "calls",
    metadata,
    sa.Column("call_sid", sa.String(64), primary_key=True),
    sa.Column("account_sid", sa.String(64)),
    sa.Column("caller", sa.String(64)),
    sa.Column("callee", sa.String(64)),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("end_reason", sa.String(200)),
    sa.Column("bot_version", sa.String(64)),
    sa.Column("frames_in", sa.Integer, default=0),
    sa.Column("frames_dropped", sa.Integer, default=0),
    sa.Column("frames_out", sa.Integer, default=0),
    # A call whose stream moved to another replica (failover, drain): how often it resumed, when it last
    # did, and the stream whose frame counts were last added (a replayed write adds them once).
    sa.Column("resumes", sa.Integer, default=0),
    sa.Column("resumed_at", sa.Float),
    sa.Column("last_stream_sid", sa.String(64)),
)
turns_table = sa.Table(
    "turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_sid", sa.String(64), sa.ForeignKey("calls.call_sid"), nullable=False, index=True),
    sa.Column("turn", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # greeting, speech, dtmf, silence, busy, resume
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("caller_text", sa.Text),
    sa.Column("stt_confidence", sa.Float),
    sa.Column("domain", sa.String(64)),
    sa.Column("intent", sa.String(128)),
    sa.Column("intent_confidence", sa.Float),
    sa.Column("reply", sa.Text),
    sa.Column("action", sa.String(16)),
    sa.Column("stt_ms", sa.Float),  # recognizer time for the audio that produced the final
    sa.Column("nlu_ms", sa.Float),  # routing + NLU + dialogue (bot.handle)
    sa.Column("first_audio_ms", sa.Float),  # STT final -> first reply frame sent
    # The latency chain of a speech turn: end of speech + the VAD window -> final_ms (decode backlog and
    # Vosk finalisation; decode_wait_ms of it queued for a decode thread) -> reply_ms (STT final -> bot
    # reply: queueing + routing + NLU + dialogue) -> tts_ms (bot reply -> first frame: TTS and send).
    sa.Column("final_ms", sa.Float),
    sa.Column("decode_wait_ms", sa.Float),
    sa.Column("reply_ms", sa.Float),
    sa.Column("tts_ms", sa.Float),
    sa.Column("barged_in", sa.Boolean, default=False),
    # The two passes of a speech turn (stt.second_pass): what Vosk and the second pass heard, which text
    # the turn used (caller_text), and why: used, rejected:<guard>, busy, late, failed, cancelled, off.
    sa.Column("vosk_text", sa.Text),
    sa.Column("second_text", sa.Text),
    sa.Column("text_source", sa.String(16)),
    sa.Column("second_outcome", sa.String(40)),
    sa.Column("second_ms", sa.Float),  # the second pass's reading
    sa.Column("second_wait_ms", sa.Float),  # the turn waiting for it after Vosk's final
    # The second pass's n-best (stt.second_pass.n_best), used or not: JSON [[text, posterior], ...], best
    # first (the first is second_text); NULL without n-best.
    sa.Column("second_alternatives", sa.Text),
    sa.Column("audio_path", sa.Text),
    sa.Column("pii", sa.String(200)),  # what was masked, e.g. "PHONE:1"
    # How the bot read a text turn (callbot.events.Understanding): the model version that answered, what
    # it did (accepted, form, refused, not_understood, confirm_asked, ...), the router's domain and
    # confidence, the parsing domain's top intents as JSON [[name, confidence], ...], the text the models
    # parsed when it differs from caller_text, and on a turn whose confirmation question was answered
    # later, that answer (yes / no): a label the caller gave.
    sa.Column("bot_version", sa.String(64)),
    sa.Column("outcome", sa.String(32)),
    sa.Column("router_domain", sa.String(64)),
    sa.Column("router_confidence", sa.Float),
    sa.Column("ranking", sa.Text),
    sa.Column("parsed_text", sa.Text),
    sa.Column("confirm", sa.String(16)),
    # The store the turn was about: the value of `telephony.store_slot` known after it (the inbox's store
    # filter). Added to older databases on start like every column.
    sa.Column("store", sa.String(100)),
)


@dataclass(frozen=True)
class TurnRecord:
    call_sid: str
    turn: int
    kind: str
    at: float
    caller_text: str | None = None
    stt_confidence: float | None = None
    domain: str | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    reply: str | None = None
    action: str | None = None
    stt_ms: float | None = None
    nlu_ms: float | None = None
    first_audio_ms: float | None = None
    barged_in: bool = False
    audio_path: str | None = None
    final_ms: float | None = None
    decode_wait_ms: float | None = None
    reply_ms: float | None = None
    tts_ms: float | None = None
    vosk_text: str | None = None
    second_text: str | None = None
    text_source: str | None = None
    second_outcome: str | None = None
    second_ms: float | None = None
    second_wait_ms: float | None = None
    second_alternatives: str | None = None
    bot_version: str | None = None
    outcome: str | None = None
    router_domain: str | None = None
    router_confidence: float | None = None
    ranking: str | None = None
    parsed_text: str | None = None
    confirm: str | None = None
    store: str | None = None


def alternatives_json(alternatives: tuple[tuple[str, float], ...]) -> str | None:
    """The `second_alternatives` column: [[text, posterior], ...] as JSON; None for no n-best."""
    if not alternatives:
        return None
    return json.dumps([[text, p] for text, p in alternatives], ensure_ascii=False)


def _masked_alternatives(value: str) -> str:
    """`second_alternatives` with each text PII-masked like the caller's text it repeats."""
    try:
        items = json.loads(value)
    except ValueError:
        return mask_pii(value)[0]  # not ours: stored masked as text, nothing lost
    if not isinstance(items, list):
        return mask_pii(value)[0]
    masked = [
        [mask_pii(i[0])[0], *i[1:]] if isinstance(i, list) and i and isinstance(i[0], str) else i
        for i in items
    ]
    return json.dumps(masked, ensure_ascii=False)


def understanding_fields(understanding: Understanding | None) -> dict[str, Any]:
    """The call-log columns of how the bot read a turn (none for turns without text)."""
    if understanding is None:
        return {}
    return {
        "bot_version": understanding.version or None,
        "outcome": understanding.outcome.value,
        "router_domain": understanding.router_domain,
        "router_confidence": understanding.router_confidence,
        "ranking": json.dumps([[n, c] for n, c in understanding.ranking], ensure_ascii=False),
        "parsed_text": understanding.text or None,
    }


class CallLog:
    """The calls and turns tables behind one SQLAlchemy engine."""

    WRITES = ("start_call", "add_turn", "update_turn", "end_call", "resume_call")

    def __init__(self, url: str, spool: Path | None = None, name: str = "calllog") -> None:
        """`spool`: a folder for the write buffer (server use); without it writes go straight through."""
        try:
            self.engine = create_engine(url)
            ensure_schema(self.engine, metadata, "calllog")
        except (DatabaseError, SQLAlchemyError) as exc:
            raise CallLogError(f"call log database {safe_url(url)} unusable: {exc}") from exc
        self.url = safe_url(url)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calllog")
        self.buffer = WriteBuffer(self._apply, spool, name) if spool is not None else None

    def submit(self, fn: Callable[..., T], *args: Any) -> Awaitable[T | None]:
        """Run a blocking log method on the writer thread; await the result. Writes (with a spool) are
        spooled before this returns and buffered: the await ends once the write is in the database, or
        after `WAIT_SECONDS` while the database does not answer (the write stays queued)."""
        name = getattr(fn, "__name__", "")
        if self.buffer is not None and getattr(fn, "__self__", None) is self and name in self.WRITES:
            return _wait(self.buffer.add(name, *_portable(name, args)))
        return asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    @property
    def pending_writes(self) -> int:
        return self.buffer.pending if self.buffer is not None else 0

    @property
    def write_error(self) -> str:
        """Why buffered writes are not reaching the database ("" while they are)."""
        return self.buffer.error if self.buffer is not None else ""

    def close(self) -> None:
        if self.buffer is not None:
            self.buffer.close()
        self._writer.shutdown(wait=True)
        self.engine.dispose()

    def _apply(self, op: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return getattr(self, op)(*args, **kwargs)

    # -- writes ------------------------------------------------------------------------------

    def start_call(
        self,
        call_sid: str,
        account_sid: str = "",
        caller: str = "",
        callee: str = "",
        bot_version: str = "",
        at: float | None = None,
    ) -> None:
        with self.engine.begin() as db:
            if db.execute(
                sa.select(calls_table.c.call_sid).where(calls_table.c.call_sid == call_sid)
            ).first():
                return
            db.execute(
                calls_table.insert().values(
                    call_sid=call_sid,
                    account_sid=account_sid,
                    caller=mask_pii(caller)[0] if caller else "",
                    callee=callee,
                    started_at=at or time.time(),
                    status="in-progress",
                    bot_version=bot_version,
                    frames_in=0,
                    frames_dropped=0,
                    frames_out=0,
                    resumes=0,
                )
            )

    def add_turn(self, record: TurnRecord | dict[str, Any]) -> None:
        """Store a turn (once: a row with the same call, turn, kind and time is not stored again)."""
        given = asdict(record) if isinstance(record, TurnRecord) else record
        row = {k: v for k, v in given.items() if k in turns_table.c}  # a spooled row of an older version
        counts: dict[str, int] = {}
        for key in ("caller_text", "reply", "vosk_text", "second_text", "parsed_text", "store"):
            if row.get(key):
                row[key], found = mask_pii(row[key])
                if key in ("caller_text", "reply"):  # the other two repeat what the caller said
                    for kind, n in found.items():
                        counts[kind] = counts.get(kind, 0) + n
        if row.get("second_alternatives"):
            row["second_alternatives"] = _masked_alternatives(row["second_alternatives"])
        row["pii"] = ",".join(f"{k}:{v}" for k, v in sorted(counts.items())) or None
        t = turns_table.c
        same = sa.and_(
            t.call_sid == row["call_sid"], t.turn == row["turn"], t.kind == row["kind"], t.at == row["at"]
        )
        with self.engine.begin() as db:
            if db.execute(sa.select(t.id).where(same).limit(1)).first() is None:
                db.execute(turns_table.insert().values(**row))

    def update_turn(self, call_sid: str, turn: int, values: dict[str, Any], at: float | None = None) -> None:
        """Fill in fields of a logged turn that were not known when it was written (PII masked; `at`,
        the time of a buffered write, changes nothing: the values are as they were then)."""
        values = {k: v for k, v in values.items() if k in turns_table.c}
        for key in ("vosk_text", "second_text", "parsed_text"):
            if values.get(key):
                values[key], _ = mask_pii(values[key])
        if values.get("second_alternatives"):
            values["second_alternatives"] = _masked_alternatives(values["second_alternatives"])
        with self.engine.begin() as db:
            db.execute(
                turns_table.update()
                .where(turns_table.c.call_sid == call_sid, turns_table.c.turn == turn)
                .values(**values)
            )

    def end_call(
        self,
        call_sid: str,
        status: str,
        reason: str = "",
        stats: dict[str, int] | None = None,
        stream_sid: str | None = None,
        at: float | None = None,
    ) -> None:
        """Close a call record (idempotent: the first end time wins; a Twilio status overrides ours).

        `stats` of the stream `stream_sid` are added to the call's counts once (a moved call has
        several streams).
        """
        now = at or time.time()
        with self.engine.begin() as db:
            row = (
                db.execute(sa.select(calls_table).where(calls_table.c.call_sid == call_sid))
                .mappings()
                .first()
            )
            if row is None:
                db.execute(
                    calls_table.insert().values(
                        call_sid=call_sid,
                        started_at=now,
                        ended_at=now,
                        status=status,
                        end_reason=reason,
                        frames_in=0,
                        frames_dropped=0,
                        frames_out=0,
                        resumes=0,
                        **(stats or {}),
                        last_stream_sid=stream_sid,
                    )
                )
                return
            values: dict[str, Any] = {"status": status}
            if row["ended_at"] is None:
                values["ended_at"] = now
            if reason and not row["end_reason"]:
                values["end_reason"] = reason
            if stats and (stream_sid is None or stream_sid != row["last_stream_sid"]):
                values.update({k: (row[k] or 0) + v for k, v in stats.items()})
                values["last_stream_sid"] = stream_sid
            db.execute(calls_table.update().where(calls_table.c.call_sid == call_sid).values(**values))

    def resume_call(self, call_sid: str, at: float | None = None) -> None:
        """A call's stream came back (on this or another replica): the record is open again."""
        now = at or time.time()
        with self.engine.begin() as db:
            row = db.execute(
                sa.select(calls_table.c.resumed_at).where(calls_table.c.call_sid == call_sid)
            ).first()
            if row is None:
                db.execute(
                    calls_table.insert().values(
                        call_sid=call_sid, started_at=now, status="in-progress", resumes=0, resumed_at=None
                    )
                )
            elif row[0] == now:
                return  # replayed
            db.execute(
                calls_table.update()
                .where(calls_table.c.call_sid == call_sid)
                .values(
                    status="in-progress",
                    ended_at=None,
                    end_reason=None,
                    resumed_at=now,
                    resumes=sa.func.coalesce(calls_table.c.resumes, 0) + 1,
                )
            )

    # -- reads -------------------------------------------------------------------------------

    def list_calls(self, limit: int = 50) -> list[dict[str, Any]]:
        turns = (
            sa.select(turns_table.c.call_sid, sa.func.count().label("turns"))
            .group_by(turns_table.c.call_sid)
            .subquery()
        )
        query = (
            sa.select(calls_table, sa.func.coalesce(turns.c.turns, 0).label("turns"))
            .select_from(calls_table.outerjoin(turns, turns.c.call_sid == calls_table.c.call_sid))
            .order_by(calls_table.c.started_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(query).mappings()]

    def get_call(self, call_sid: str) -> dict[str, Any]:
        with self.engine.connect() as db:
            call = (
                db.execute(sa.select(calls_table).where(calls_table.c.call_sid == call_sid))
                .mappings()
                .first()
            )
            if call is None:
                raise CallLogError(f"no call {call_sid!r} in the call log")
            turns = db.execute(
                sa.select(turns_table).where(turns_table.c.call_sid == call_sid).order_by(turns_table.c.id)
            ).mappings()
            return {**dict(call), "turns": [dict(t) for t in turns]}

    def low_confidence_rows(self, threshold: float) -> list[dict[str, Any]]:
        """Chat-log rows (conversation_id,turn,speaker,text,intent,domain) of doubtful caller turns.

        A caller turn is doubtful when its STT or intent confidence is under `threshold` or nothing was
        understood. Intent and domain are left empty: they are what a reviewer fills in.
        """
        low = sa.or_(
            turns_table.c.stt_confidence < threshold,
            turns_table.c.intent_confidence < threshold,
            turns_table.c.intent.is_(None),
        )
        query = (
            sa.select(turns_table)
            .where(turns_table.c.kind == "speech", turns_table.c.caller_text != "", low)
            .order_by(turns_table.c.call_sid, turns_table.c.id)
        )
        rows: list[dict[str, Any]] = []
        with self.engine.connect() as db:
            for t in db.execute(query).mappings():
                base = {"conversation_id": t["call_sid"], "intent": "", "domain": ""}
                rows.append(
                    {**base, "turn": 2 * t["turn"] - 1, "speaker": "customer", "text": t["caller_text"]}
                )
                if t["reply"]:
                    rows.append({**base, "turn": 2 * t["turn"], "speaker": "agent", "text": t["reply"]})
        return rows

    def export_low_confidence(self, path: Path, threshold: float) -> int:
        rows = self.low_confidence_rows(threshold)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(
                f, fieldnames=["conversation_id", "turn", "speaker", "text", "intent", "domain"]
            )
            writer.writeheader()
            writer.writerows(rows)
        return sum(1 for r in rows if r["speaker"] == "customer")


async def _wait(future: concurrent.futures.Future[Any]) -> Any:
    try:
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), WAIT_SECONDS)
    except TimeoutError:
        return None  # written when the database answers


def _portable(op: str, args: tuple[Any, ...]) -> tuple[list[Any], dict[str, Any]]:
    """A write's arguments as JSON-friendly values, with the time it happened (a buffered write keeps it)."""
    items = [asdict(a) if isinstance(a, TurnRecord) else a for a in args]
    kwargs: dict[str, Any] = {}
    if op != "add_turn":
        kwargs["at"] = time.time()
    return items, kwargs
