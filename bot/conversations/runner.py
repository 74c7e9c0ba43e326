"""Playing conversation tests against the real dialogue and scoring task success.

Each conversation gets fresh dialogue state (a new `DialogueSession`, forgotten afterwards), a fresh
reservation store seeded from its file and the file's day as the actions' clock. A driver plays the
steps: `TextDriver` sends them to `Bot.handle` exactly as `callbot shell` and calls do (the greeting
first, one `Dtmf` per key, silences counted as the call session counts them); the phone driver
(`telephony.conversation_calls`) speaks them through the phone audio path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.conversations.checks import Failure, Heard, Outcome, check_outcome, check_step
from bot.conversations.services import ConversationClock, ConversationReservations
from bot.conversations.spec import Conversation, Step, Suite
from callbot.events import BotAction, BotReply, Dtmf, KeypadPause, Silence, UserText


class Driver(Protocol):
    """Plays one conversation's steps and reports what the caller heard after each."""

    async def start(self, call_id: str) -> Heard: ...
    async def step(self, step: Step) -> Heard: ...
    async def finish(self) -> None: ...


@dataclass(frozen=True)
class SilencePolicy:
    """What a call does when the caller stays silent (telephony.silence): after `max_reprompts`
    reprompts in a row the next silence gives up with `text` and `action`."""

    max_reprompts: int = 2
    text: str = "응답이 없으셔서 통화를 종료하겠습니다. 감사합니다."
    action: BotAction = BotAction.HANGUP


class TextDriver:
    """Steps as text events to `Bot.handle`, on one `DialogueSession` per conversation. Keys that do
    not end with `#` and are not followed by more keys are followed by the keypad pause (as a call
    takes them, `telephony.keypad_pause_seconds`): its reply is heard before the next step's."""

    def __init__(self, bot: Any, silence: SilencePolicy = SilencePolicy()) -> None:
        self.bot = bot
        self.silence = silence
        self.session: Any = None
        self._silences = 0
        self._keys_open = False  # keys without # were the last step

    async def start(self, call_id: str) -> Heard:
        self.session = self.bot.new_session(call_id)
        self._silences = 0
        self._keys_open = False
        return _heard([await self.bot.greet(self.session)])

    async def step(self, step: Step) -> Heard:
        paused = []
        if self._keys_open and step.kind != "dtmf":
            paused.append(await self.bot.handle(self.session, KeypadPause()))
        self._keys_open = step.kind == "dtmf" and not step.value.endswith("#")
        if step.kind == "silence":
            self._silences += 1
            if self._silences > self.silence.max_reprompts:  # the call session gives up
                return Heard(self.silence.text, actions=(self.silence.action.value,))
            return _heard([*paused, await self.bot.handle(self.session, Silence())])
        self._silences = 0
        if step.kind == "dtmf":
            return _heard([await self.bot.handle(self.session, Dtmf(key)) for key in step.value])
        if step.kind == "user":
            return _heard([*paused, await self.bot.handle(self.session, UserText(step.value))])
        raise ValueError("audio steps need the phone path (--tts), not the text driver")

    async def finish(self) -> None:
        if self.session is not None:
            await self.bot.end_session(self.session)
            self.session = None


def _heard(replies: list[BotReply]) -> Heard:
    said = [r for r in replies if r.text]
    last = said[-1] if said else (replies[-1] if replies else BotReply(text=""))
    actions = tuple(r.action.value for r in replies if r.action is not BotAction.NONE)
    return Heard(" ".join(r.text for r in said), last.intent, last.domain, dict(last.slots), actions)


@dataclass
class ConversationResult:
    conversation: Conversation
    failure: Failure | None
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (caller, bot) per turn
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class RunResult:
    results: list[ConversationResult]
    seconds: float
    mode: str = "text"
    version: str = ""

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.results) if self.results else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "models": self.version,
            "conversations": len(self.results),
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4),
            "seconds": round(self.seconds, 1),
            "failures": [failure_dict(r) for r in self.results if r.failure is not None],
        }


def failure_dict(result: ConversationResult) -> dict[str, Any]:
    f = result.failure
    assert f is not None
    return {
        "conversation": result.conversation.name,
        "source": result.conversation.source,
        "check": f.check,
        "step": f.step,
        "message": f.message,
        "said": f.said,
        "reply": f.reply,
        "intent": f.intent,
        "slots": f.slots,
    }


async def run_conversation(
    driver: Driver,
    conversation: Conversation,
    suite: Suite,
    reservations: ConversationReservations,
    clock: ConversationClock,
    call_id: str,
) -> ConversationResult:
    """Play one conversation on fresh state and judge it; the first failing check is kept."""
    started = time.monotonic()
    reservations.reset(suite.reservations)
    clock.set(suite.now)
    transcript: list[tuple[str, str]] = []
    failure: Failure | None = None
    handoff = hangup = False
    last = ""
    said_in_a_row: list[str] = []
    try:
        greeting = await driver.start(call_id)
        transcript.append(("", greeting.text))
        for number, step in enumerate(conversation.steps, 1):
            if handoff or hangup:
                failure = failure or Failure(
                    "call_ended",
                    f"the call ended ({'handoff' if handoff else 'hangup'}) before step {number}",
                    number,
                    step.describe(),
                    last,
                )
                break
            heard = await driver.step(step)
            transcript.append((step.describe(), heard.text + _action_note(heard)))
            last = heard.text or last
            failure = failure or check_step(step, number, heard)
            said_in_a_row = _same_in_a_row(said_in_a_row, heard, step)
            if len(said_in_a_row) > MAX_SAME_REPLY and failure is None:
                failure = Failure(
                    "repeated",
                    f"the same reply {len(said_in_a_row)} times in a row (at most {MAX_SAME_REPLY})",
                    number,
                    step.describe(),
                    heard.text,
                    heard.intent,
                    dict(heard.slots),
                )
            handoff = handoff or "handoff" in heard.actions
            hangup = hangup or "hangup" in heard.actions
    finally:
        await driver.finish()
    outcome = Outcome(reservations.touched(), reservations.cancelled_now(), handoff, hangup, last)
    failure = failure or check_outcome(conversation.expect, outcome)
    return ConversationResult(conversation, failure, transcript, time.monotonic() - started)


MAX_SAME_REPLY = 2  # no prompt is said more than twice in a row


def _same_in_a_row(previous: list[str], heard: Heard, step: Step) -> list[str]:
    """The run of identical replies ending with this one; a repeat the caller asked for ("다시
    말해 주세요", `*`) is not counted."""
    asked_again = (heard.intent or "").endswith("_repeat") or (step.kind == "dtmf" and "*" in step.value)
    if not heard.text or asked_again:
        return []
    return [*previous, heard.text] if previous and previous[-1] == heard.text else [heard.text]


def _action_note(heard: Heard) -> str:
    return "".join(f" [{a}]" for a in heard.actions)


async def run_suites(
    driver: Driver,
    suites: Iterable[Suite],
    reservations: ConversationReservations,
    clock: ConversationClock,
    *,
    tags: Iterable[str] = (),
    progress: Callable[[ConversationResult], None] | None = None,
    mode: str = "text",
    version: str = "",
) -> RunResult:
    """Every conversation of `suites` (only those with one of `tags`, when given), one after another."""
    wanted = set(tags)
    started = time.monotonic()
    results: list[ConversationResult] = []
    for suite in suites:
        for i, conversation in enumerate(suite.conversations, 1):
            if wanted and not wanted & set(conversation.tags):
                continue
            call_id = f"conv-{suite.path.stem}-{i}"
            result = await run_conversation(driver, conversation, suite, reservations, clock, call_id)
            results.append(result)
            if progress is not None:
                progress(result)
    return RunResult(results, time.monotonic() - started, mode, version)


def selected(suites: Iterable[Suite], tags: Iterable[str] = ()) -> int:
    """How many conversations `run_suites` will play."""
    wanted = set(tags)
    return sum(1 for s in suites for c in s.conversations if not wanted or wanted & set(c.tags))


async def run_text(
    config: Any,
    suites: list[Suite],
    *,
    tags: Iterable[str] = (),
    silence: SilencePolicy = SilencePolicy(),
    progress: Callable[[ConversationResult], None] | None = None,
    version: str | None = None,
) -> RunResult:
    """Load the trained models (`models/current`, or `version`) with test services and play every
    conversation as text turns."""
    from bot.actions import ActionContext
    from bot.agents import RuntimeSettings
    from bot.runtime import Bot
    from bot.stores import StoreDirectory

    settings = RuntimeSettings.from_config(config)
    reservations, clock = ConversationReservations(), ConversationClock()
    stores = StoreDirectory.from_csv(settings.stores_file) if settings.stores_file else None
    context = ActionContext(config=config, reservations=reservations, stores=stores, clock=clock)  # type: ignore[arg-type]
    bot = await Bot.load(config, context=context, version=version)
    try:
        return await run_suites(
            TextDriver(bot, silence),
            suites,
            reservations,
            clock,
            tags=tags,
            progress=progress,
            version=bot.version,
        )
    finally:
        bot.close()
        reservations.close()
