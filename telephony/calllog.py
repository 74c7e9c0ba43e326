"""Call logs: every call and every turn persisted as it happens, PII masked before it is written.

SQLAlchemy 1.4 Core; SQLite under `paths.state_dir` by default, any SQLAlchemy URL (postgresql://...)
via `telephony.database_url`. Writes run on one dedicated thread (`CallLog.submit`) so the event loop
never blocks on the database and SQLite sees one writer.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from data.pii import mask_pii
from telephony import CallLogError

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
)
turns_table = sa.Table(
    "turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_sid", sa.String(64), sa.ForeignKey("calls.call_sid"), nullable=False, index=True),
    sa.Column("turn", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # greeting, speech, dtmf, silence, busy
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
    sa.Column("audio_path", sa.Text),
    sa.Column("pii", sa.String(200)),  # what was masked, e.g. "PHONE:1"
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


class CallLog:
    """The calls and turns tables behind one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = sa.create_engine(url, future=True)
            metadata.create_all(self.engine)
            _add_new_columns(self.engine)
        except (SQLAlchemyError, ImportError) as exc:
            raise CallLogError(f"call log database {_safe(url)} unusable: {exc}") from exc
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calllog")

    async def submit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking log method on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self.engine.dispose()

    # -- writes ------------------------------------------------------------------------------

    def start_call(
        self, call_sid: str, account_sid: str = "", caller: str = "", callee: str = "", bot_version: str = ""
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
                    started_at=time.time(),
                    status="in-progress",
                    bot_version=bot_version,
                    frames_in=0,
                    frames_dropped=0,
                    frames_out=0,
                )
            )

    def add_turn(self, record: TurnRecord) -> None:
        row = asdict(record)
        counts: dict[str, int] = {}
        for key in ("caller_text", "reply", "vosk_text", "second_text"):
            if row[key]:
                row[key], found = mask_pii(row[key])
                if key in ("caller_text", "reply"):  # the other two repeat what the caller said
                    for kind, n in found.items():
                        counts[kind] = counts.get(kind, 0) + n
        row["pii"] = ",".join(f"{k}:{v}" for k, v in sorted(counts.items())) or None
        with self.engine.begin() as db:
            db.execute(turns_table.insert().values(**row))

    def update_turn(self, call_sid: str, turn: int, values: dict[str, Any]) -> None:
        """Fill in fields of a logged turn that were not known when it was written (PII masked)."""
        values = dict(values)
        for key in ("vosk_text", "second_text"):
            if values.get(key):
                values[key], _ = mask_pii(values[key])
        with self.engine.begin() as db:
            db.execute(
                turns_table.update()
                .where(turns_table.c.call_sid == call_sid, turns_table.c.turn == turn)
                .values(**values)
            )

    def end_call(
        self, call_sid: str, status: str, reason: str = "", stats: dict[str, int] | None = None
    ) -> None:
        """Close a call record (idempotent: the first end time wins; a Twilio status overrides ours)."""
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
                        started_at=time.time(),
                        ended_at=time.time(),
                        status=status,
                        end_reason=reason,
                        frames_in=0,
                        frames_dropped=0,
                        frames_out=0,
                    )
                )
                return
            values: dict[str, Any] = {"status": status}
            if row["ended_at"] is None:
                values["ended_at"] = time.time()
            if reason and not row["end_reason"]:
                values["end_reason"] = reason
            values.update(stats or {})
            db.execute(calls_table.update().where(calls_table.c.call_sid == call_sid).values(**values))

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


def _add_new_columns(engine: sa.engine.Engine) -> None:
    """Columns added to the tables since a database was created are added to it (nullable, no data)."""
    inspector = sa.inspect(engine)
    for table in (calls_table, turns_table):
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in have]
        if not missing:
            continue
        with engine.begin() as db:
            for column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                db.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
        logger.info("telephony.calllog.migrated table=%s added=%s", table.name, [c.name for c in missing])


def _safe(url: str) -> str:
    """A database URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<invalid database URL>"
