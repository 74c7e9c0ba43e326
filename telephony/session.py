"""One call's state and turn loop: caller audio -> STT -> bot -> TTS -> frames back, with barge-in.

A `CallSession` owns three tasks: the STT decoder (caller frames go through `telephony.caller_audio`:
gated as they arrive and decoded behind them in the recognizer's decode pool -> transcripts), the
dialogue worker (caller events -> bot -> spoken reply -> call log) and the silence watchdog. The
websocket loop (`telephony.stream`) feeds it parsed events and gives it two callbacks: `send` (a text
message to Twilio) and `close` (end the stream, which ends the call).

A turn is committed when the caller starts hearing its reply: its call-log row is written (spooled
first) and the call's progress and dialogue state are saved (`telephony.call_state`), so a replica that
takes the call over (after this one died or drained) asks the question the caller last heard.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from callbot.events import (
    BotAction,
    BotReply,
    Dtmf,
    KeypadPause,
    Silence,
    Transcript,
    TurnOutcome,
    UserText,
)
from stt.second_pass.pool import LATE, OFF, USED, Choice, choose
from telephony import TelephonyError, protocol
from telephony.call_state import CallProgress
from telephony.caller_audio import CallerAudio
from telephony.calllog import TurnRecord, alternatives_json, understanding_fields
from telephony.decoding import EndedUtterance
from telephony.playback import Playback, after_first_piece
from telephony.services import CallServices, RecognitionStreamLike
from telephony.turn_timing import DecodeTiming, ms_between

logger = logging.getLogger(__name__)
_WORDS = re.compile(r"[\w가-힣]+")

# The caller's answer to a confirmation question, as logged on the asked turn.
CONFIRM_ANSWERS = {TurnOutcome.CONFIRM_YES: "yes", TurnOutcome.CONFIRM_NO: "no"}


@dataclass(frozen=True)
class CallerTurn:
    text: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    final_at: float  # time.monotonic() when the turn's text was known (Vosk's final, or the second pass)
    stt_ms: float | None
    pcm: bytes
    barged_in: bool = False  # this utterance interrupted the bot
    endpoint_at: float | None = None  # when the audio frame that ended the utterance (VAD close) arrived
    decode_wait_ms: float | None = None  # the final's decode call waiting for a decode thread
    choice: Choice | None = None  # with a second pass: the text chosen, where from, and why
    second_wait_ms: float | None = None  # how long the turn waited for the second pass's reading
    utterance: EndedUtterance | None = None  # with a second pass: the utterance (Vosk's final may follow)


class CallSession:
    """State of one call, passed to whatever needs it (no globals)."""

    def __init__(
        self,
        services: CallServices,
        call_sid: str,
        stream_sid: str,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self._close = close
        self.dialogue: Any = None
        self.recognition: RecognitionStreamLike | None = None
        self.turn = 0
        self.barge_ins = 0
        self.audio_in = CallerAudio(self._on_transcript, self.settings.save_audio, self._on_utterance)
        self.stats = self.audio_in.stats  # frames_in, frames_dropped
        self._events: asyncio.Queue[CallerTurn | EndedUtterance | Dtmf | KeypadPause | Silence | None] = (
            asyncio.Queue()
        )
        self._keys_pause: asyncio.TimerHandle | None = None  # digits keyed without #: taken after a pause
        self._tasks: list[asyncio.Task[None]] = []
        self._dialogue_task: asyncio.Task[None] | None = None
        self.player = Playback(stream_sid, send, self._heard)
        self._busy = False
        self._in_speech = False
        self._idle_since = time.monotonic()
        self._silences = 0
        self._confirm_turn: int | None = None  # the turn whose reply asked "... 문의 맞으세요?"
        self._store: str | None = None  # the store slot's value as last logged (settings.store_slot)
        self._barged = False
        self._ended = False
        self.stream_url = ""  # where Twilio reconnects after a <Say> reply (tts backend twilio_say)
        self.resume_url = ""  # the <Connect action> Twilio requests if this stream ends mid-call
        self.progress = CallProgress(call_sid)  # what another replica needs to take the call over
        self.resumed: CallProgress | None = None  # set when this stream continues a moved call
        self.ended_by_bot = False  # the bot hung up or handed off: a reconnect gets <Hangup/>
        self.handing_over = False  # a drain is moving this call to another replica
        self._suspended = False
        self.awaiting_reconnect = False
        self.attachments = 0  # streams that took over this session after a <Say>
        self._backchannels = {_norm(w) for w in self.settings.barge_in.backchannels}

    @property
    def play_seconds(self) -> float:
        """Length of the reply being played (or spoken by Twilio's <Say>)."""
        return self.player.seconds

    # -- lifecycle ---------------------------------------------------------------------------

    async def begin(
        self,
        recognition: RecognitionStreamLike | None,
        resumed: CallProgress | None = None,
        dialogue: Any = None,
    ) -> None:
        """Start the call: greet (or, with no recognizer slot free, apologise and hand off). A call that
        moved here (`resumed`, with its `dialogue` when it survived) asks its pending question instead."""
        bot, log = self.services.bot, self.services.calllog
        if resumed is not None:
            self.resumed = resumed
            self.progress = replace(resumed, resumes=resumed.resumes + 1, ended=False, reason="")
            self.turn = resumed.turn
            await log.submit(log.resume_call, self.call_sid)
        else:
            await log.submit(log.start_call, self.call_sid, "", "", "", str(getattr(bot, "version", "")))
        if recognition is None:
            self._spawn(self._busy_line)
            return
        self.recognition = recognition
        self.dialogue = dialogue if dialogue is not None else bot.new_session(self.call_sid)
        self._spawn(self.audio_in.start(self.services.recognizer, recognition, self.services.stt_executor))
        self._dialogue_task = self._spawn(self._dialogue_worker)
        self._spawn(self._silence_watchdog)

    async def finish(self, reason: str) -> None:
        """End the call's work: stop tasks, close the dialogue, close the call record. Idempotent."""
        if self._ended:
            return
        self._ended = True
        # A turn in progress (the caller hung up while the bot answered) still gets logged.
        await self._stop_work(wait_for_turn=1.0)
        if self.dialogue is not None:
            try:
                await self.services.bot.end_session(self.dialogue)
            except Exception:  # noqa: BLE001 - the bot's failure must not lose the call record
                logger.exception("telephony.session.end_session_failed call=%s", self.call_sid)
        await self.save_state(ended=True, reason=reason)  # a reconnect of this call now gets <Hangup/>
        await self._close_record("ended", reason)
        logger.info("telephony.session.finished call=%s reason=%s turns=%d", self.call_sid, reason, self.turn)

    async def suspend(self, reason: str) -> None:
        """The stream left this replica while the call goes on (it dropped, or a drain handed it over):
        stop the call's work here and leave its state as of the last reply the caller heard, for the
        replica that resumes it. A turn not yet heard is dropped: the caller says it again. Idempotent."""
        if self._ended:
            return
        self._ended = self._suspended = True
        await self._stop_work(wait_for_turn=0.0)
        if self.dialogue is not None:
            await self.services.bot.release_session(self.dialogue)
        await self._close_record("moved", reason)
        logger.info(
            "telephony.session.suspended call=%s reason=%s turns=%d", self.call_sid, reason, self.turn
        )

    async def hand_over(self, wait: float = 10.0) -> None:
        """Drain: once no turn is in progress (at most `wait` s), end this stream so that Twilio asks
        another replica to continue the call (the <Connect action> URL)."""
        self.handing_over = True
        deadline = time.monotonic() + wait
        while (self._busy or self._events.qsize()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._close()

    async def _stop_work(self, wait_for_turn: float) -> None:
        current = asyncio.current_task()
        dialogue = self._dialogue_task
        if wait_for_turn and self._busy and dialogue is not None and dialogue is not current:
            await asyncio.wait([dialogue], timeout=wait_for_turn)
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        self.audio_in.close()
        closer = getattr(self.recognition, "close", None)
        if callable(closer):
            closer()

    async def _close_record(self, status: str, reason: str) -> None:
        stats = {**self.stats, "frames_out": self.player.frames_out}
        log = self.services.calllog
        await log.submit(log.end_call, self.call_sid, status, reason, stats, self.stream_sid)

    # -- inbound events from the socket loop -------------------------------------------------

    def on_media(self, media: protocol.Media) -> None:
        if self.audio_in.push(media.payload):  # the caller is talking, whether or not STT has caught up
            self._idle_since = time.monotonic()

    def on_dtmf(self, digit: str) -> None:
        if self._keys_pause is not None:
            self._keys_pause.cancel()
            self._keys_pause = None
        self._events.put_nowait(Dtmf(digit=digit))

    def on_mark(self, name: str) -> None:
        self.player.marked(name)

    # -- workers -----------------------------------------------------------------------------

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._guard(work))
        self._tasks.append(task)
        return task

    async def _guard(self, work: Callable[[], Awaitable[None]]) -> None:
        """An error in one of this call's tasks ends this call, never the server."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged with the call SID, then the call ends
            logger.exception("telephony.session.failed call=%s error=%s", self.call_sid, exc)
            self.services.metrics.errors.labels(kind="call").inc()
            await self._close()

    async def _on_transcript(self, t: Transcript, timing: DecodeTiming) -> None:
        text = t.text.strip()
        if not text:
            if t.final:
                self._in_speech = False
            return
        interrupting = self._is_interruption(text)
        if self.player.playing and interrupting and self.settings.barge_in.enabled:
            await self._barge_in(text)
            self._barged = True
        if not t.final:
            self._in_speech = True
            return
        self._in_speech = False
        self._idle_since = time.monotonic()
        if self.player.playing and not interrupting:
            logger.debug("telephony.session.backchannel call=%s text=%s", self.call_sid, text)
            return
        pcm = self.audio_in.take_utterance()
        barged, self._barged = self._barged, False
        turn = CallerTurn(
            text,
            t.confidence,
            t.alternatives,
            time.monotonic(),
            timing.stt_ms,
            pcm,
            barged,
            timing.endpoint_at,
            timing.wait_ms,
        )
        self._events.put_nowait(turn)

    def _on_utterance(self, utterance: EndedUtterance) -> None:
        """With a second pass: the caller's utterance ended (the gate closed); its turn starts now,
        whether or not Vosk's final is decoded yet (`_utterance_turn` waits for whichever text it needs)."""
        self._in_speech = False
        self._idle_since = time.monotonic()
        utterance.pcm = self.audio_in.take_utterance()
        self._events.put_nowait(utterance)

    async def _dialogue_worker(self) -> None:
        """Caller events, one at a time, in order; the bot's greeting first (unless TwiML said one), or
        for a call that moved here, the pending question again."""
        if self.resumed is not None or not self.settings.greeting:
            self._busy = True
            try:
                await (self._ask_again() if self.resumed is not None else self._greet())
            finally:
                self._busy = False
                self._idle_since = time.monotonic()
        while not self.ended_by_bot:  # keys pressed after a hangup or handoff are not turns
            item = await self._events.get()
            if item is None:
                return
            self._busy = True
            try:
                await self._take_turn(item)
            finally:
                self._busy = False
                self._idle_since = time.monotonic()

    async def _silence_watchdog(self) -> None:
        limit = self.settings.silence.reprompt_seconds
        while True:
            await asyncio.sleep(min(0.25, limit / 4))
            busy = (
                self.player.playing
                or self._busy
                or self._in_speech
                or self._events.qsize()
                or self.audio_in.backlog_frames()
            )
            quiet = not busy
            if quiet and time.monotonic() - self._idle_since >= limit:
                self._idle_since = time.monotonic()
                self._events.put_nowait(Silence())

    # -- turns -------------------------------------------------------------------------------

    async def _greet(self) -> None:
        reply = await self.services.bot.greet(self.dialogue)
        record = TurnRecord(
            self.call_sid,
            0,
            "greeting",
            time.time(),
            reply=reply.text,
            domain=reply.domain,
            intent=reply.intent,
        )
        await self._say(
            reply.text,
            reply.fixed,
            since=time.monotonic(),
            heard=lambda ms: self._commit(replace(record, first_audio_ms=ms), reply.text),
        )
        await self._act(reply)

    async def _utterance_turn(self, utterance: EndedUtterance) -> CallerTurn | None:
        """The turn of an ended utterance: the second pass's text when its reading is done within
        `deadline_ms` past the endpoint window and passes the guards (Vosk's final is not waited for),
        else Vosk's. None when nothing was heard, or only a backchannel while the bot speaks."""
        second = self.services.recognizer.second_pass
        waited = time.monotonic()
        reading, outcome = None, OFF
        if utterance.second is not None:
            deadline = utterance.endpoint_at + second.settings.deadline_ms / 1000
            reading, outcome = await utterance.second.wait(deadline - waited)
        if outcome != USED:
            await utterance.vosk
            if outcome == LATE:  # Vosk took longer still: the reading may be there by now
                reading, outcome = await utterance.second.wait(0)
        vosk = utterance.vosk.result()[0] if utterance.vosk.done() else None
        choice = choose(
            vosk.text if vosk else "", vosk.confidence if vosk else 0.0, reading, outcome, second.name
        )
        second.settle(choice)
        if choice.source == "vosk" and choice.outcome != OFF:
            self.services.metrics.stt_fallbacks.labels(
                kind=f"second_pass_{choice.outcome.split(':')[0]}"
            ).inc()
        text = choice.text.strip()
        if not text:
            logger.info("telephony.session.nothing_heard call=%s outcome=%s", self.call_sid, outcome)
            return None
        interrupting = self._is_interruption(text)
        if self.player.playing and interrupting and self.settings.barge_in.enabled:
            await self._barge_in(text)
            self._barged = True
        elif self.player.playing:
            logger.debug("telephony.session.backchannel call=%s text=%s", self.call_sid, text)
            return None
        barged, self._barged = self._barged, False
        now = time.monotonic()
        return CallerTurn(
            text,
            choice.confidence,
            choice.alternatives if choice.source != "vosk" else vosk.alternatives if vosk is not None else (),
            now,
            None,
            utterance.pcm,
            barged,
            utterance.endpoint_at,
            choice=choice,
            second_wait_ms=round((now - waited) * 1000, 1),
            utterance=utterance,
        )

    async def _log_vosk_later(self, turn_no: int, utterance: EndedUtterance) -> None:
        """Vosk's side of a second-pass turn, logged once its final is decoded: the turn's row is written
        without waiting for it (nothing the caller hears waits for Vosk when the second pass was used)."""
        try:
            await utterance.vosk
        except asyncio.CancelledError:  # the call ended first: the row stays, without Vosk's text
            return
        values = _vosk_values(utterance)
        await self.services.calllog.submit(self.services.calllog.update_turn, self.call_sid, turn_no, values)

    async def _ask_again(self) -> None:
        """The call moved here: apologise and ask the question the caller last heard (or ask to repeat)."""
        failover = self.settings.failover
        pending = self.resumed.prompt if self.resumed is not None else ""
        text = f"{failover.apology} {pending or failover.ask_again}".strip()
        record = TurnRecord(self.call_sid, self.turn, "resume", time.time(), reply=text)
        await self._say(
            text,
            False,
            since=time.monotonic(),
            heard=lambda ms: self._commit(replace(record, first_audio_ms=ms), pending or None),
        )

    async def _take_turn(self, item: CallerTurn | EndedUtterance | Dtmf | KeypadPause | Silence) -> None:
        if isinstance(item, EndedUtterance):
            if (heard := await self._utterance_turn(item)) is None:
                return
            item = heard
        self.turn += 1
        record: dict[str, Any] = {"call_sid": self.call_sid, "turn": self.turn, "at": time.time()}
        if isinstance(item, Silence):
            self._silences += 1
            if self._silences > self.settings.silence.max_reprompts:
                await self._give_up(record)
                return
            event: UserText | Dtmf | KeypadPause | Silence = item
            record.update(kind="silence")
            since = time.monotonic()
        else:
            self._silences = 0
            if isinstance(item, Dtmf | KeypadPause):
                event, since = item, time.monotonic()
                record.update(kind="dtmf", caller_text=item.digit if isinstance(item, Dtmf) else "(pause)")
            else:
                event, since = UserText(item.text, item.confidence, item.alternatives), item.final_at
                record.update(
                    kind="speech",
                    caller_text=item.text,
                    stt_confidence=item.confidence,
                    **_second_pass_fields(item),
                    stt_ms=None if item.stt_ms is None else round(item.stt_ms, 1),
                    audio_path=self._save_audio(item.pcm),
                    barged_in=item.barged_in,
                    final_ms=None if item.utterance else ms_between(item.endpoint_at, item.final_at),
                    decode_wait_ms=item.decode_wait_ms,
                )
        if self.player.playing:  # a keypress or an answer supersedes what is still being said
            await self.player.clear()
        started = time.monotonic()
        reply = await self.services.bot.handle(self.dialogue, event)
        replied = time.monotonic()
        record["nlu_ms"] = round((replied - started) * 1000, 1)
        record["reply_ms"] = ms_between(since, replied)
        record.update(
            reply=reply.text,
            domain=reply.domain,
            intent=reply.intent,
            intent_confidence=reply.confidence,
            action=reply.action.value,
            **understanding_fields(reply.understanding),
            store=self._store_after(reply),
        )
        confirmed = self._confirmation(record["turn"], reply)
        utterance = item.utterance if isinstance(item, CallerTurn) else None
        if utterance is not None and utterance.vosk.done():
            record.update(_vosk_values(utterance))

        def heard(first_ms: float | None) -> None:
            record["first_audio_ms"] = first_ms
            if first_ms is not None:
                record["tts_ms"] = round(first_ms - record["reply_ms"], 1)
            self._commit(TurnRecord(**record), reply.text or None)
            if confirmed is not None:
                log = self.services.calllog
                self._spawn(lambda: log.submit(log.update_turn, self.call_sid, *confirmed))
            if utterance is not None and not utterance.vosk.done():  # Vosk's text joins the row later
                self._spawn(lambda: self._log_vosk_later(record["turn"], utterance))

        if isinstance(item, Dtmf) and not reply.text and self.settings.keypad_pause_seconds:
            # a digit kept for a number: without more keys (or #) the number is complete after a pause
            loop = asyncio.get_running_loop()
            pause = self.settings.keypad_pause_seconds
            self._keys_pause = loop.call_later(pause, self._events.put_nowait, KeypadPause())
        await self._say(reply.text, reply.fixed, since=since, heard=heard)
        await self._act(reply)

    def _store_after(self, reply: BotReply) -> str | None:
        """The store the turn was about: the store slot's value the reply carries, else the one an
        earlier turn of this call named (a question to the common domain keeps the call's store)."""
        name = self.settings.store_slot
        value = reply.slots.get(name) if name else None
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        if value is not None and str(value).strip():
            self._store = str(value).strip()[:100]
        return self._store

    def _confirmation(self, turn: int, reply: BotReply) -> tuple[int, dict[str, str]] | None:
        """The caller answered the bot's "... 문의 맞으세요?": the asked turn's `confirm` value to log
        (`(turn, {"confirm": "yes"})`), so that turn's text carries the caller's own label."""
        outcome = reply.understanding.outcome if reply.understanding is not None else None
        asked, self._confirm_turn = self._confirm_turn, None
        if outcome is TurnOutcome.CONFIRM_ASKED:
            self._confirm_turn = turn
        elif outcome in CONFIRM_ANSWERS and asked is not None:
            return asked, {"confirm": CONFIRM_ANSWERS[outcome]}
        return None

    async def _give_up(self, record: dict[str, Any]) -> None:
        """Too many silences in a row: hand off (or say goodbye and hang up)."""
        handoff = bool(self.settings.agent_number)
        text = self.settings.silence.handoff_text if handoff else self.settings.silence.goodbye_text
        action = BotAction.HANDOFF if handoff else BotAction.HANGUP
        row = TurnRecord(**record, kind="silence", reply=text, action=action.value)
        await self._say(
            text, True, since=time.monotonic(), heard=lambda ms: self._commit(replace(row, first_audio_ms=ms))
        )
        await self._act(BotReply(text=text, action=action, fixed=True))

    async def _busy_line(self) -> None:
        """No recognizer slot: say so politely, then hand off or end the call."""
        text = self.settings.busy_text
        action = BotAction.HANDOFF if self.settings.agent_number else BotAction.HANGUP
        row = TurnRecord(self.call_sid, self.turn, "busy", time.time(), reply=text, action=action.value)
        self.services.metrics.stt_fallbacks.labels(kind="busy").inc()
        await self._say(
            text, True, since=time.monotonic(), heard=lambda ms: self._commit(replace(row, first_audio_ms=ms))
        )
        await self._act(BotReply(text=text, action=action, fixed=True))

    async def _act(self, reply: BotReply) -> None:
        if reply.action is BotAction.NONE:
            return
        self.ended_by_bot = True  # from here on a reconnect of this call is answered with <Hangup/>
        await self.player.wait(self.call_sid)
        control, number = self.services.control, self.settings.agent_number
        try:
            if reply.action is BotAction.HANDOFF and number and control.enabled:
                await control.handoff(self.call_sid, number)
            elif control.enabled:
                await control.hangup(self.call_sid)
        except TelephonyError as exc:
            logger.error("telephony.session.control_failed call=%s error=%s", self.call_sid, exc)
            self.services.metrics.errors.labels(kind="control").inc()
        # Before the stream closes: Twilio may ask the <Connect action> at once, and must hear <Hangup/>.
        await self.save_state(ended=True, reason=reply.action.value)
        # Twilio ends the stream after the update; closing it ourselves also ends a call without REST.
        await self._close()

    def _commit(self, record: TurnRecord, prompt: str | None = None) -> None:
        """The caller starts hearing the reply to `record`'s turn: log the turn and save the call's state
        (`prompt`: the reply, now the question a replica taking the call over asks again)."""
        if self._suspended:
            return  # the stream is gone: the caller did not hear this; the next replica asks again
        log = self.services.calllog
        self.services.metrics.turn(record)
        asyncio.ensure_future(log.submit(log.add_turn, record))  # spooled (buffered writes) right here
        self.progress = replace(self.progress, turn=self.turn, prompt=prompt or self.progress.prompt)
        self.save_state()

    def resync(self) -> None:
        """Redis answers again after an outage: store this call's state now (a turn under way stores it
        when its reply starts)."""
        if not (self._busy or self._ended):
            self.save_state()

    def save_state(self, ended: bool = False, reason: str = "") -> asyncio.Future[bool]:
        """Write the call's progress and dialogue state as of now (Redis, or in-process); in call order."""
        if ended:
            self.progress = replace(self.progress, ended=True, reason=reason)
        snapshot = self.services.bot.checkpoint(self.dialogue) if self.dialogue is not None else None
        saving = asyncio.ensure_future(self.services.calls.save(self.progress, snapshot))
        saving.add_done_callback(self._saved)
        return saving

    def _saved(self, saving: asyncio.Future[bool]) -> None:
        if not saving.cancelled() and saving.exception() is None and saving.result() is False:
            self.services.metrics.errors.labels(kind="redis").inc()  # kept in-process, written later

    def _save_audio(self, pcm: bytes) -> str | None:
        if not (self.settings.save_audio and pcm):
            return None
        folder = self.settings.state_dir / "calls" / self.call_sid
        folder.mkdir(parents=True, exist_ok=True)
        path: Path = folder / f"turn-{self.turn:03d}.wav"
        sf.write(str(path), np.frombuffer(pcm, dtype="<i2"), protocol.PHONE_RATE, subtype="PCM_16")
        return str(path)

    # -- speaking ----------------------------------------------------------------------------

    async def _say(
        self, text: str, fixed: bool, since: float, heard: Callable[[float | None], None] | None = None
    ) -> float | None:
        """Speak `text`; returns ms from `since` to the first frame sent (None when nothing was sent).

        `heard(first_ms)` is called once: as the first frame goes out, or (nothing sent) at the end.
        """
        pending = [heard] if heard is not None else []

        def first_frame() -> None:
            if pending:
                pending.pop()(round((time.monotonic() - since) * 1000, 1))

        first_ms: float | None = None
        try:
            if text.strip() and self.services.speech.speaks_via_call:
                await self._say_via_call(text)
            elif text.strip():
                # Pieces as they are synthesized: the first frame goes out before the whole reply is rendered.
                speech = after_first_piece(self.services.speech.stream(text, fixed), first_frame)
                first_ms = await self.player.play(speech, since)
            return first_ms
        finally:
            if pending:  # nothing went out (or the reply was cut off before its first piece was done)
                pending.pop()(first_ms)

    async def _say_via_call(self, text: str) -> None:
        """twilio_say: a call update says `text`, then reconnects the stream, which resumes this session.

        Twilio ends the current stream to run the new TwiML; the socket loop keeps the session alive
        (`awaiting_reconnect`) until the new stream's `start` re-attaches it. No barge-in during <Say>.
        """
        token = self.services.tokens.issue(self.call_sid)
        self.player.started("say", 5.0 + 0.3 * len(text))
        self.awaiting_reconnect = True
        voice = getattr(self.services.speech.tts, "twilio_voice", None)
        await self.services.control.say_then_stream(
            self.call_sid, text, voice, self.stream_url, token, self.resume_url
        )

    def attach(
        self, stream_sid: str, send: Callable[[str], Awaitable[None]], close: Callable[[], Awaitable[None]]
    ) -> None:
        """A new stream of the same call (after a <Say> update) takes over this session."""
        self.stream_sid, self._close = stream_sid, close
        self.player.stream_sid, self.player.send = stream_sid, send
        self.awaiting_reconnect = False
        self.attachments += 1
        self.player.ended()

    def _is_interruption(self, text: str) -> bool:
        words = [_norm(w) for w in _WORDS.findall(text)]
        if not words or all(w in self._backchannels for w in words):
            return False
        return len("".join(words)) >= self.settings.barge_in.min_chars

    async def _barge_in(self, text: str) -> None:
        self.barge_ins += 1
        logger.info("telephony.session.barge_in call=%s text=%s", self.call_sid, text)
        await self.player.clear()

    def _heard(self) -> None:
        self._idle_since = time.monotonic()


def _vosk_values(utterance: EndedUtterance) -> dict[str, Any]:
    """Call-log fields of Vosk's final for an utterance whose final is decoded (empty if it was dropped)."""
    if utterance.vosk.cancelled():
        return {}
    vosk, timing, at = utterance.vosk.result()
    return {
        "vosk_text": vosk.text if vosk is not None else "",
        "stt_ms": round(timing.stt_ms, 1),
        "final_ms": ms_between(utterance.endpoint_at, at),
        "decode_wait_ms": timing.wait_ms,
    }


def _second_pass_fields(turn: CallerTurn) -> dict[str, Any]:
    """Call-log fields of the two passes: what the second heard, which text the turn used, and why
    (Vosk's text comes with its final: `_vosk_values`)."""
    choice = turn.choice
    if choice is None:
        return {"text_source": "vosk", "second_outcome": "off"}
    return {
        "text_source": choice.source,
        "second_outcome": choice.outcome,
        "second_text": choice.second_text,
        "second_ms": choice.second_ms,
        "second_wait_ms": turn.second_wait_ms,
        "second_alternatives": alternatives_json(choice.second_alternatives),
    }


def _norm(word: str) -> str:
    return "".join(_WORDS.findall(word))
