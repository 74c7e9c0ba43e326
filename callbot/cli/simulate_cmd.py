"""`callbot simulate-call`: place a call against a callbot server the way Twilio would."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import typer

from callbot.cli.common import console, get_config, print_json, user_errors


def simulate_call(
    ctx: typer.Context,
    audio: list[Path] = typer.Argument(None, help="Caller turns: audio files (WAV/FLAC/OGG, any rate)."),
    url: str = typer.Option(
        None, "--url", help="Server base URL. Default: http://127.0.0.1:<telephony.port>."
    ),
    fast: bool = typer.Option(False, "--fast", help="Send caller audio faster than real time."),
    dtmf: str = typer.Option(
        "", "--dtmf", help="Keypad digits pressed after the audio turns, e.g. 0 or 12#."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Save the bot's audio as a WAV."),
    auth_token: str = typer.Option(
        None, "--auth-token", help="Twilio auth token to sign the webhook. Default: $TWILIO_AUTH_TOKEN."
    ),
    admin_token: str = typer.Option(
        None,
        "--admin-token",
        help="Reads turns from the call log as they happen. Default: $CALLBOT_ADMIN_TOKEN.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Signed voice webhook -> TwiML -> media stream: connected, start, media, dtmf, stop."""
    from telephony import SimulationError, TelephonyError
    from telephony.settings import read_telephony_settings
    from telephony.sim_media import save_wav
    from telephony.simulator import AudioTurn, DtmfTurn
    from telephony.simulator import simulate_call as run

    with user_errors(TelephonyError):
        settings = read_telephony_settings(get_config(ctx))
    base = url or f"http://127.0.0.1:{settings.port}"
    auth = auth_token or os.environ.get("TWILIO_AUTH_TOKEN")
    admin = admin_token or os.environ.get("CALLBOT_ADMIN_TOKEN")
    turns: list[Any] = [AudioTurn(path=p) for p in audio or []]
    if dtmf:
        turns.append(DtmfTurn(dtmf))

    def on_turn(turn: dict[str, Any]) -> None:
        if as_json:
            return
        heard = f"caller: {turn['caller_text']}  " if turn.get("caller_text") else ""
        routed = "/".join(x for x in (turn.get("domain"), turn.get("intent")) if x)
        console.print(
            f"[dim]#{turn['turn']} {turn['kind']}[/] {heard}[cyan]{routed}[/] bot: {turn.get('reply') or ''}",
            highlight=False,
        )

    with user_errors(SimulationError, TelephonyError, OSError):
        result = asyncio.run(run(base, turns, auth_token=auth, admin_token=admin, fast=fast, on_turn=on_turn))
    if out:
        save_wav(out, bytes(result.bot_audio))
    summary = {
        "call_sid": result.call_sid,
        "replies": result.replies,
        "reply_latency_ms": result.reply_latencies_ms,
        "bot_audio_seconds": round(len(result.bot_audio) / 8000, 2),
        "clears": result.clears,
        "late_frames": result.late_frames,
        "ended_by": "server" if result.closed_by_server else "caller",
    }
    if as_json:
        print_json({**summary, "log": result.log})
        return
    if not admin:
        console.print(
            "[yellow]no admin token:[/] transcripts and routing are in `callbot calls show "
            + result.call_sid
            + "`"
        )
    for key, value in summary.items():
        console.print(f"{key}: {value}", highlight=False)
    if out:
        console.print(f"bot audio saved to {out}")
