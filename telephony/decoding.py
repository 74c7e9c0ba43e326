"""One call's decoding behind its energy gate: gated audio waits here while a decode is in flight.

The call's socket side hands each frame of caller audio to `StreamDecoder.feed` as it arrives, which
gates it at once (`RecognitionStream.gate`: cheap, and never waits for a decode in flight);
`StreamDecoder.run` keeps one job of the shared `stt.decode_pool.DecodePool` in flight per call, each
decoding everything gated since the previous one.
So an utterance's end is seen the moment its frame arrives (not after the decode in flight), a busy
decoder gets fewer, larger jobs instead of falling behind a frame at a time, and when the end lands
behind a queued chunk of the same call's speech, that chunk is promoted ahead of other calls' speech.
Ongoing speech is decoded in jobs of at least `SPEECH_JOB_MS` (an utterance end goes at once): a job per
20 ms frame paid a thread hand-over, a partial result and a delivery per frame for 0.3 ms of decoding.
With a second pass (`stt.second_pass`), the gated audio also goes to a `UtteranceReader`, which starts
reading an utterance again as soon as the caller's speech stops; each final transcript is delivered with
the job reading its utterance (`DecodeTiming.second`), for the call session to wait on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from callbot.events import Transcript
from stt.second_pass.utterances import UtteranceReader
from stt.vad import GateEvent, SpeechAudio, SpeechEnd, coalesce
from telephony import protocol
from telephony.turn_timing import DecodeTiming, arrival, wait_ms

Deliver = Callable[[Transcript, DecodeTiming], Awaitable[None]]
SPEECH_JOB_MS = 100  # partials (barge-in) come at most this much later; finals are not delayed


class StreamDecoder:
    """Decodes one call's gated audio in order, one pool job at a time; transcripts go to `deliver`."""

    def __init__(
        self,
        pool: Any,
        stream: Any,
        deliver: Deliver,
        job_ms: int = SPEECH_JOB_MS,
        utterances: UtteranceReader | None = None,
    ) -> None:
        self._pool = pool
        self._stream = stream
        self._deliver = deliver
        self._utterances = utterances
        self._segmented = _Segmented(stream)
        self._events: list[GateEvent] = []
        self._endpoint_at: float | None = None  # arrival of the frame where a waiting utterance ended
        self._last_at = 0.0  # arrival of the latest frame that let audio through
        self._job: Any = None  # the pool job in flight (stt.decode_pool.DecodeJob)
        self._ready = asyncio.Event()
        self._job_samples = protocol.PHONE_RATE * job_ms // 1000
        self._waiting_samples = 0  # gated since the last job was taken
        self.backlog_samples = 0  # gated speech not decoded yet (waiting or in flight)

    def feed(self, pcm: bytes, first: int, batch: list[tuple[bytes, float]]) -> None:
        """Gate caller PCM (input samples from `first`; `batch`: its (mu-law, arrival) frames) now."""
        self.add(self._stream.gate(pcm), batch, first)

    def add(self, events: list[GateEvent], batch: list[tuple[bytes, float]], first: int) -> None:
        """What the gate let through of `batch` ((mu-law, arrival) frames; `first`: its first sample)."""
        if not events:
            return
        if self._utterances is not None:
            self._utterances.add(events)
        ended = False
        for event in events:
            if isinstance(event, SpeechAudio):
                self.backlog_samples += len(event.pcm) // 2
                self._waiting_samples += len(event.pcm) // 2
            elif isinstance(event, SpeechEnd):
                self._endpoint_at = arrival(batch, first, event.end)
                ended = True
        self._events.extend(events)
        self._last_at = batch[-1][1]
        if ended and self._job is not None:
            self._job.promote()  # the caller now waits on the speech still queued before the end
        if ended or self._waiting_samples >= self._job_samples:
            self._ready.set()

    async def run(self) -> None:
        """Until cancelled: decode whatever was gated since the last job, deliver its transcripts."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            # One decoder call (and one partial) for everything gated since the last job, not one per frame.
            events, self._events = coalesce(self._events), []
            self._waiting_samples = 0
            if not events:
                continue
            endpoint_at = self._endpoint_at if self._endpoint_at is not None else self._last_at
            self._endpoint_at = None
            samples = sum(len(e.pcm) // 2 for e in events if isinstance(e, SpeechAudio))
            started = time.monotonic()
            try:
                self._job = self._pool.submit(self._segmented, events)
                segments = await self._job.future
            finally:
                self._job = None
                self.backlog_samples -= samples
            timing = DecodeTiming(
                stt_ms=(time.monotonic() - started) * 1000,
                wait_ms=wait_ms(self._stream, started),
                endpoint_at=endpoint_at,
            )
            for results, ended in segments:
                await self._deliver_segment(results, ended, timing)

    def close(self) -> None:
        """The call ended: readings started for it are of no use any more."""
        if self._utterances is not None:
            self._utterances.close()

    async def _deliver_segment(self, results: list[Transcript], ended: bool, timing: DecodeTiming) -> None:
        """Transcripts of one stretch of events (ending at an utterance end, if `ended`), with the second
        pass's job attached to each final: the closed utterance's for the last final of an ended stretch,
        else (Vosk ended an utterance on its own while the gate stayed open) a reading of the audio so far.
        When the gate closed but Vosk heard nothing, an empty final carries the reading: the second pass
        may have heard what Vosk missed."""
        reader = self._utterances
        finals = [t for t in results if t.final]
        for transcript in results:
            if reader is None or not transcript.final:
                await self._deliver(transcript, timing)
                continue
            job = reader.take_ended() if ended and transcript is finals[-1] else reader.cut()
            await self._deliver(transcript, replace(timing, second=job))
        if reader is not None and ended and not finals and (job := reader.take_ended()) is not None:
            await self._deliver(Transcript(text="", final=True), replace(timing, second=job))


class _Segmented:
    """A stream whose `decode` splits its events after each utterance end (for the decode pool)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def decode(self, events: list[GateEvent]) -> list[tuple[list[Transcript], bool]]:
        """`stream.decode` of each stretch of events, with whether the stretch ends an utterance."""
        out: list[tuple[list[Transcript], bool]] = []
        start = 0
        for i, event in enumerate(events):
            if isinstance(event, SpeechEnd):
                out.append((self.stream.decode(events[start : i + 1]), True))
                start = i + 1
        if start < len(events):
            out.append((self.stream.decode(events[start:]), False))
        return out
