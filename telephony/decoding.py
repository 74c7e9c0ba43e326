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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from callbot.events import Transcript
from stt.vad import GateEvent, SpeechAudio, SpeechEnd, coalesce
from telephony import protocol
from telephony.turn_timing import DecodeTiming, arrival, wait_ms

Deliver = Callable[[Transcript, DecodeTiming], Awaitable[None]]
SPEECH_JOB_MS = 100  # partials (barge-in) come at most this much later; finals are not delayed


class StreamDecoder:
    """Decodes one call's gated audio in order, one pool job at a time; transcripts go to `deliver`."""

    def __init__(self, pool: Any, stream: Any, deliver: Deliver, job_ms: int = SPEECH_JOB_MS) -> None:
        self._pool = pool
        self._stream = stream
        self._deliver = deliver
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
                self._job = self._pool.submit(self._stream, events)
                results = await self._job.future
            finally:
                self._job = None
                self.backlog_samples -= samples
            timing = DecodeTiming(
                stt_ms=(time.monotonic() - started) * 1000,
                wait_ms=wait_ms(self._stream, started),
                endpoint_at=endpoint_at,
            )
            for transcript in results:
                await self._deliver(transcript, timing)
