"""Conversation tests through the phone path (`callbot test conversations --tts`).

Every conversation is a simulated call against a real server on loopback: `user` steps are spoken
with the configured TTS and sent as 8 kHz mu-law media frames (so the call's speech recognizer hears
them, with its endpointing, barge-in and silence timing), `audio` steps send a recording, `dtmf`
steps key digits, `silence` steps keep the line quiet until the call's silence timer fires. The bot
behind the server is the real one with the conversation test services (a fresh reservation store
per conversation, the file's day as the clock); `RecordingBot` notes what each step got back, and the
same checks as the text runner judge it. With espeak-ng this tests plumbing, not recognition.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bot.conversations.checks import Heard
from bot.conversations.runner import ConversationResult, RunResult, run_suites
from bot.conversations.services import ConversationClock, ConversationReservations
from bot.conversations.spec import Step, Suite
from callbot.config import Config
from callbot.events import BotAction, BotReply, Dtmf, Silence, UserText

logger = logging.getLogger(__name__)


class RecordingBot:
    """A `BotLike` around the real bot that remembers every turn of every call, in order."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.turns: dict[str, list[tuple[Any, BotReply]]] = {}

    @property
    def version(self) -> str:
        return self.bot.version

    def new_session(self, call_id: str) -> Any:
        self.turns[call_id] = []
        return self.bot.new_session(call_id)

    async def greet(self, session: Any) -> BotReply:
        reply = await self.bot.greet(session)
        self.turns.setdefault(session.call_id, []).append((None, reply))
        return reply

    async def handle(self, session: Any, event: UserText | Dtmf | Silence) -> BotReply:
        reply = await self.bot.handle(session, event)
        self.turns.setdefault(session.call_id, []).append((event, reply))
        return reply

    async def end_session(self, session: Any) -> None:
        await self.bot.end_session(session)

    async def reload(self) -> str:
        return await self.bot.reload()

    def checkpoint(self, session: Any) -> Any:
        return self.bot.checkpoint(session)

    async def resume_session(self, call_id: str) -> Any | None:
        return await self.bot.resume_session(call_id)

    async def release_session(self, session: Any) -> None:
        await self.bot.release_session(session)


@dataclasses.dataclass
class PhoneCalls:
    """Places one call per conversation and splits what the bot said by step: a step's replies are
    the bot turns between it and the next step (a spoken step may be heard as two utterances)."""

    url: str
    recorder: RecordingBot
    speak: Callable[[str], bytes]
    reprompt_seconds: float
    admin_token: str

    async def call(self, call_id: str, steps: list[Step]) -> tuple[str, list[Heard]]:
        """Place the call; returns the greeting and what each step heard."""
        from telephony.simulator import AudioTurn, DtmfTurn, HoldTurn, simulate_call

        sid = "CA" + hashlib.sha1(call_id.encode()).hexdigest()[:32]
        marks: list[int] = []

        def turns_so_far() -> int:
            return len(self.recorder.turns.get(sid, []))

        def mark() -> HoldTurn:
            async def note() -> None:
                marks.append(turns_so_far())

            return HoldTurn(until=note)

        def quiet() -> HoldTurn:
            async def wait() -> None:  # until the call's silence timer fires (or the call ends)
                deadline = time.monotonic() + self.reprompt_seconds + 5.0
                seen = turns_so_far()
                while time.monotonic() < deadline and turns_so_far() == seen:
                    await asyncio.sleep(0.05)

            return HoldTurn(until=wait)

        plan: list[Any] = []
        for step in steps:
            plan.append(mark())
            if step.kind == "user":
                plan.append(AudioTurn(ulaw=await asyncio.to_thread(self.speak, step.value)))
            elif step.kind == "audio":
                plan.append(AudioTurn(path=Path(step.value)))
            elif step.kind == "dtmf":
                plan.append(DtmfTurn(step.value))
            else:
                plan.append(quiet())
        plan.append(mark())
        result = await simulate_call(
            self.url, plan, call_sid=sid, fast=True, linger=2.0, admin_token=self.admin_token
        )
        turns = self.recorder.turns.get(sid, [])
        greeting = turns[0][1].text if turns else ""
        heard = []
        for i in range(len(steps)):
            start = marks[i] if i < len(marks) else len(turns)
            end = marks[i + 1] if i + 1 < len(marks) else len(turns)
            heard.append(_heard(turns[start:end]))
        given_up = _given_up(result.log)
        if given_up is not None and result.closed_by_server:
            # The call session itself ends a call after too many silences, without the bot.
            i = next((i for i in range(len(heard) - 1, -1, -1) if heard[i].text), len(heard) - 1)
            i = i + 1 if i + 1 < len(heard) and steps[i + 1].kind == "silence" else i
            heard[i] = given_up
        return greeting, heard


def _heard(turns: list[tuple[Any, BotReply]]) -> Heard:
    if not turns:
        return Heard("")
    said = [r for _, r in turns if r.text]
    last = said[-1] if said else turns[-1][1]
    actions = tuple(r.action.value for _, r in turns if r.action is not BotAction.NONE)
    recognized = [e.text for e, _ in turns if isinstance(e, UserText)]
    text = " ".join(r.text for r in said)
    if recognized:
        text = f"{text} (heard: {' / '.join(recognized)})"
    return Heard(text, last.intent, last.domain, dict(last.slots), actions)


def _given_up(log: dict[str, Any] | None) -> Heard | None:
    """The call session's own last words after too many silences, from the call log."""
    turns = (log or {}).get("turns") or []
    last = turns[-1] if turns else {}
    if last.get("kind") == "silence" and last.get("action") in ("handoff", "hangup"):
        return Heard(last.get("reply") or "", actions=(last["action"],))
    return None


class _CallDriver:
    """The runner's driver: it asks for the replies step by step, a call gives them all at its end,
    so each conversation's call is placed when the runner starts the conversation."""

    def __init__(self, calls: PhoneCalls, steps: dict[str, list[Step]]) -> None:
        self.calls = calls
        self.steps = steps  # call_id -> the conversation's steps
        self.heard: list[Heard] = []

    async def start(self, call_id: str) -> Heard:
        greeting, heard = await self.calls.call(call_id, self.steps.get(call_id, []))
        self.heard = list(reversed(heard))
        return Heard(greeting)

    async def step(self, step: Step) -> Heard:
        return self.heard.pop() if self.heard else Heard("")

    async def finish(self) -> None:
        self.heard = []


async def run_phone(
    config: Config,
    suites: list[Suite],
    *,
    tags: Iterable[str] = (),
    progress: Callable[[ConversationResult], None] | None = None,
) -> RunResult:
    """Every conversation as a call through a real server on loopback (see the module docstring)."""
    from bot.actions import ActionContext
    from bot.agents import RuntimeSettings
    from bot.runtime import Bot
    from bot.stores import StoreDirectory
    from telephony.server import Secrets, ServerThread, build_services
    from telephony.settings import read_telephony_settings
    from telephony.tts import create_tts

    settings = read_telephony_settings(config)
    runtime = RuntimeSettings.from_config(config)
    reservations, clock = ConversationReservations(), ConversationClock()
    stores = StoreDirectory.from_csv(runtime.stores_file) if runtime.stores_file else None
    context = ActionContext(config=config, reservations=reservations, stores=stores, clock=clock)  # type: ignore[arg-type]
    tts = create_tts(settings.tts)
    admin = secrets.token_hex(16)  # the simulator reads each call's log through the admin API
    holder: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="callbot-conversations-") as tmp:
        # The test calls' log goes to a scratch database, not the operators' call log.
        phone = dataclasses.replace(settings, database_url=f"sqlite:///{Path(tmp) / 'calls.db'}")

        async def factory():  # noqa: ANN202 - runs on the server's loop, where the bot lives
            bot = await Bot.load(config, context=context)
            holder["recorder"] = RecordingBot(bot)
            services = await build_services(
                config, Secrets(admin_token=admin), settings=phone, bot=holder["recorder"], insecure_dev=True
            )
            services.closers.append(bot.close)
            return services

        try:
            with ServerThread(factory) as server:
                recorder: RecordingBot = holder["recorder"]

                def speak(text: str) -> bytes:
                    return asyncio.run(tts.synthesize(text))

                calls = PhoneCalls(server.url, recorder, speak, phone.silence.reprompt_seconds, admin)
                steps = {
                    f"conv-{suite.path.stem}-{i}": list(conv.steps)
                    for suite in suites
                    for i, conv in enumerate(suite.conversations, 1)
                }
                return await run_suites(
                    _CallDriver(calls, steps), suites, reservations, clock, tags=tags, progress=progress,
                    mode="phone", version=recorder.version,
                )  # fmt: skip
        finally:
            reservations.close()
