"""`callbot calls ...`: read the call log; export doubtful turns for review and retraining."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from callbot.cli.common import console, fail, get_config, print_json, user_errors

app = typer.Typer(help="Call logs: list calls, show one, export low-confidence turns.", no_args_is_help=True)


def _log(ctx: typer.Context):  # noqa: ANN202 - telephony is imported lazily
    from telephony import TelephonyError
    from telephony.calllog import CallLog
    from telephony.settings import read_telephony_settings

    with user_errors(TelephonyError):
        settings = read_telephony_settings(get_config(ctx))
        return CallLog(settings.sqlalchemy_url), settings


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", "-n", help="Most recent calls to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The most recent calls, newest first."""
    log, _ = _log(ctx)
    calls = log.list_calls(limit)
    if as_json:
        print_json(calls)
        return
    table = Table("call SID", "started", "duration", "turns", "status", "end", "bot")
    for c in calls:
        table.add_row(
            c["call_sid"],
            _time(c["started_at"]),
            _duration(c),
            str(c["turns"]),
            c["status"],
            c["end_reason"] or "",
            c["bot_version"] or "",
        )
    console.print(table)
    if not calls:
        console.print("no calls logged yet")


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    sid: str = typer.Argument(..., help="Call SID (CA...)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every turn of one call: what was heard, how it was understood, what was said, how fast."""
    from telephony import CallLogError

    log, _ = _log(ctx)
    with user_errors(CallLogError):
        call = log.get_call(sid)
    if as_json:
        print_json(call)
        return
    console.print(
        f"[bold]{call['call_sid']}[/] {_time(call['started_at'])} {_duration(call)} "
        f"status={call['status']} end={call['end_reason'] or '-'} caller={call['caller'] or '-'}"
    )
    table = Table(
        "#", "kind", "caller", "stt", "domain/intent", "conf", "reply", "action", "stt/nlu/audio ms"
    )
    for t in call["turns"]:
        table.add_row(
            str(t["turn"]),
            t["kind"],
            _heard(t),
            _num(t["stt_confidence"]),
            "/".join(x for x in (t["domain"], t["intent"]) if x),
            _num(t["intent_confidence"]),
            t["reply"] or "",
            t["action"] or "",
            "/".join(_num(t[k], 0) for k in ("stt_ms", "nlu_ms", "first_audio_ms")),
        )
    console.print(table)


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    low_confidence: bool = typer.Option(
        False, "--low-confidence", help="Only turns whose STT or intent confidence is under the threshold."
    ),
    out: Path = typer.Option(Path("review.csv"), "--out", "-o", help="CSV to write (chat-log format)."),
    threshold: float = typer.Option(None, "--threshold", help="Default: telephony.low_confidence."),
) -> None:
    """Write caller turns as a chat log (conversation_id,turn,speaker,text,intent,domain) that
    `callbot data build` reads back; fill in intent/domain, add the file to data.chat_logs, retrain."""
    if not low_confidence:
        fail("only --low-confidence export is supported: pass --low-confidence")
    log, settings = _log(ctx)
    limit = settings.low_confidence if threshold is None else threshold
    n = log.export_low_confidence(out, limit)
    console.print(f"{n} caller turns under confidence {limit:g} written to {out}")


def _heard(turn: dict[str, Any]) -> str:
    """The text the turn used, then what each pass heard when a second pass ran (the used one marked)."""
    text = turn["caller_text"] or ""
    outcome = turn.get("second_outcome")
    if turn["kind"] != "speech" or outcome in (None, "off"):
        return text
    used = turn.get("text_source") or "vosk"
    second = "" if turn.get("second_text") is None else turn["second_text"]
    lines = [
        text,
        f"{'*' if used == 'vosk' else ' '} vosk: {turn.get('vosk_text') or ''}",
        f"{'*' if used != 'vosk' else ' '} 2nd: {second} ({outcome})",
    ]
    return "\n".join(lines)


def _time(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _duration(call: dict[str, Any]) -> str:
    if not call.get("ended_at"):
        return "live" if call.get("status") == "in-progress" else "-"
    return f"{call['ended_at'] - call['started_at']:.0f}s"


def _num(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"
