"""`callbot shell`: talk to the bot by typing, through exactly the pipeline a phone call uses.

Each line becomes a `UserText` for one `DialogueSession` of the loaded `Bot`; commands start with `/`:
`/dtmf 12#` keys digits, `/audio FILE` recognizes a recording with the STT engine and sends the
transcript, `/state` shows the routing state, `/reset` starts a new call, `/quit` ends.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from callbot.cli.common import console, get_config, user_errors
from callbot.config import Config
from callbot.events import BotAction, BotReply, Dtmf, UserText

HELP = "type a sentence, or: /dtmf DIGITS (e.g. /dtmf 4#), /audio FILE, /state, /reset, /help, /quit"
KEYS = set("0123456789*#")


@dataclass
class ShellIO:
    """Where the shell reads lines and writes output; `json_lines` prints one JSON object per reply."""

    read_line: Callable[[], Awaitable[str | None]]
    console: Console
    json_lines: bool = False
    audio: Callable[[Path], Awaitable[UserText]] | None = None


def shell(
    ctx: typer.Context,
    json_lines: bool = typer.Option(False, "--json", help="One JSON object per reply (for scripts)."),
    call_id: str = typer.Option("shell", "--call-id", help="Session id used in logs."),
) -> None:
    """Chat with the bot in the terminal, over the same dialogue pipeline as a phone call."""
    from bot.actions import ActionLoadError
    from bot.models import ModelNotFoundError
    from bot.nlu.parser import ModelLoadError

    config = get_config(ctx)
    _quiet_rasa(getattr(ctx.find_root().obj, "verbose", False))
    with user_errors(ModelNotFoundError, ModelLoadError, ActionLoadError):
        asyncio.run(_main(config, call_id, json_lines))


def _quiet_rasa(verbose: bool) -> None:
    """Rasa's structured logger prints every debug event to stdout unless configured."""
    import logging

    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:  # the shell shows each turn itself; per-turn log lines would interleave
        from callbot.cli.common import quiet_own_logs

        quiet_own_logs()


async def _main(config: Config, call_id: str, json_lines: bool) -> None:
    from bot.runtime import Bot

    out = console if not json_lines else Console(highlight=False, soft_wrap=True)
    if not json_lines:
        out.print("[dim]loading models...[/]")
    bot = await Bot.load(config)
    try:
        io = ShellIO(_line_reader(config), out, json_lines, _audio_reader(config))
        if not json_lines:
            out.print(f"[dim]models {bot.version}, domains: {', '.join(bot.domains)}. {HELP}[/]")
        await run_shell(bot, io, call_id)
    finally:
        bot.close()


async def run_shell(bot: Any, io: ShellIO, call_id: str = "shell") -> None:
    """The shell loop over `bot` (a `bot.runtime.Bot`): greet, then one reply per line until EOF."""
    session = bot.new_session(call_id)
    _show(io, await bot.greet(session), "greet")
    while True:
        line = await io.read_line()
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        if not line.startswith("/"):
            _show(io, await bot.handle(session, UserText(line)), line)
            continue
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        if command in ("/quit", "/exit"):
            break
        if command == "/help":
            _note(io, HELP)
        elif command == "/state":
            _state(io, {"version": bot.version, **session.state()})
        elif command == "/reset":
            await bot.end_session(session)
            session = bot.new_session(call_id)
            _show(io, await bot.greet(session), "reset")
        elif command == "/dtmf":
            keys = arg.replace(" ", "")
            if not keys or set(keys) - KEYS:
                _note(io, "usage: /dtmf DIGITS  (0-9, * and #, e.g. /dtmf 4#)")
            for digit in keys if not set(keys) - KEYS else "":
                _show(io, await bot.handle(session, Dtmf(digit)), f"dtmf {digit}")
        elif command == "/audio":
            await _audio(bot, session, io, arg)
        else:
            _note(io, f"unknown command {command}; {HELP}")
        if session.last_reply is not None and session.last_reply.action is not BotAction.NONE:
            _note(io, f"(the call would now {session.last_reply.action.value}; /reset starts a new one)")
    await bot.end_session(session)


async def _audio(bot: Any, session: Any, io: ShellIO, arg: str) -> None:
    if not arg:
        _note(io, "usage: /audio FILE  (wav/flac/ogg/mp3)")
        return
    if io.audio is None:
        _note(io, "/audio needs the stt package, which is not available")
        return
    path = Path(arg).expanduser()
    if not path.is_file():
        _note(io, f"audio: {path}: no such file")
        return
    try:
        heard = await io.audio(path)
    except Exception as exc:  # the STT layer raises its own specific errors; show them, keep the shell
        _note(io, f"audio: {exc}")
        return
    _note(io, f"heard: {heard.text!r} (confidence {heard.confidence:.2f})")
    decoded = getattr(io.audio, "last", None)
    if decoded is not None and decoded.second_text is not None:
        passes = ", ".join(
            f"{src} ({outcome})" for src, outcome in zip(decoded.sources, decoded.outcomes, strict=True)
        )
        _note(
            io, f"  vosk heard {decoded.vosk_text!r}, the second pass {decoded.second_text!r}; used: {passes}"
        )
    _show(io, await bot.handle(session, heard), heard.text)


def _show(io: ShellIO, reply: BotReply, said: str) -> None:
    if io.json_lines:
        data = {
            "input": said,
            "text": reply.text,
            "domain": reply.domain,
            "intent": reply.intent,
            "confidence": round(reply.confidence, 4),
            "slots": reply.slots,
            "action": reply.action.value,
            "fixed": reply.fixed,
        }
        io.console.print(json.dumps(data, ensure_ascii=False, default=str), markup=False, highlight=False)
        return
    if not reply.text:
        io.console.print("[dim](key noted)[/]")
        return
    slots = " ".join(f"{k}={v}" for k, v in reply.slots.items())
    meta = f"{reply.domain or '-'} / {reply.intent or '-'} ({reply.confidence:.2f})"
    io.console.print(f"[dim]{escape(meta)}{'  ' + escape(slots) if slots else ''}[/]")
    action = "" if reply.action is BotAction.NONE else f" [bold yellow]{escape(f'[{reply.action.value}]')}[/]"
    io.console.print(f"[bold cyan]bot>[/] {escape(reply.text)}{action}")


def _note(io: ShellIO, text: str) -> None:
    if io.json_lines:
        io.console.print(json.dumps({"note": text}, ensure_ascii=False), markup=False, highlight=False)
    else:
        io.console.print(f"[dim]{escape(text)}[/]")


def _state(io: ShellIO, state: dict[str, Any]) -> None:
    if io.json_lines:
        io.console.print(json.dumps({"state": state}, ensure_ascii=False), markup=False, highlight=False)
    else:
        for key, value in state.items():
            io.console.print(f"  {key}: {escape(str(value))}")


def _line_reader(config: Config, stream: TextIO | None = None) -> Callable[[], Awaitable[str | None]]:
    """Prompt with history (prompt_toolkit) on a terminal; plain lines from a pipe, e.g. in tests."""
    stream = stream or sys.stdin
    if stream.isatty():
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        state_dir = config.reader("paths").path("state_dir", "var")
        state_dir.mkdir(parents=True, exist_ok=True)
        prompt = PromptSession(history=FileHistory(str(state_dir / "shell_history")))

        async def read_tty() -> str | None:
            try:
                return await prompt.prompt_async("you> ")
            except (EOFError, KeyboardInterrupt):
                return None

        return read_tty

    async def read_pipe() -> str | None:
        line = await asyncio.to_thread(stream.readline)
        return line if line else None

    return read_pipe


class _AudioReader:
    """File -> transcript through the STT engine (loaded on first use) with the passes a call uses;
    `last` keeps the latest `stt.transcribe.Decoded` (each pass's text) for the shell to show."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.last = None
        self._recognizer = None

    def _recognize(self, path: Path) -> UserText:
        from stt.audio import read_audio
        from stt.engine import SpeechRecognizer
        from stt.transcribe import decode_pcm, file_rate

        if self._recognizer is None:
            self._recognizer = SpeechRecognizer.from_config(self.config)
        rate = file_rate(self._recognizer)
        self.last = decode_pcm(self._recognizer, read_audio(path, rate), rate)
        return UserText(self.last.text, self.last.confidence, self.last.alternatives)

    async def __call__(self, path: Path) -> UserText:
        return await asyncio.to_thread(self._recognize, path)


def _audio_reader(config: Config) -> Callable[[Path], Awaitable[UserText]] | None:
    """The STT engine's reader, or None without the stt package."""
    try:
        import stt.engine  # noqa: F401
    except ImportError:
        return None
    return _AudioReader(config)
