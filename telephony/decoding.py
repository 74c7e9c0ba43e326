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
reading an utterance again as soon as the caller's speech stops. The moment the gate closes, the call
session gets an `EndedUtterance` (the reading, and a future for Vosk's final, which the decode fills in
later): a turn whose reading is done need not wait for Vosk at all.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from callbot.events import Transcript
from stt.second_pass.pool import PassJob
from stt.second_pass.utterances import UtteranceReader
from stt.vad import GateEvent, SpeechAudio, SpeechEnd, coalesce
from telephony import protocol
from telephony.turn_timing import DecodeTiming, arrival, wait_ms

Deliver = Callable[[Transcript, DecodeTiming], Awaitable[None]]
SPEECH_JOB_MS = 100  # partials (barge-in) come at most this much later; finals are not delayed


@dataclass
class EndedUtterance:
    """An utterance that ended (the gate closed, or Vosk ended it while the gate stayed open)."""

    second: PassJob | None  # the second pass reading it (None: it had no audio, or no reader was free)
    endpoint_at: float  # arrival of the frame that ended it
    # Vosk's final (None: it heard nothing), its decode timing, and when it was there (time.monotonic())
    vosk: asyncio.Future[tuple[Transcript | None, DecodeTiming, float]]
    pcm: bytes = b""  # the caller audio kept for save_audio (set by the call session)


class StreamDecoder:
    """Decodes one call's gated audio in order, one pool job at a time; transcripts go to `deliver`."""

    def __init__(
        self,
        pool: Any,
        stream: Any,
        deliver: Deliver,
        job_ms: int = SPEECH_JOB_MS,
        utterances: UtteranceReader | None = None,
        on_utterance: Callable[[EndedUtterance], None] | None = None,
    ) -> None:
        self._pool = pool
        self._stream = stream
        self._deliver = deliver
        self._utterances = utterances if on_utterance is not None else None
        self._on_utterance = on_utterance
        self._ended: deque[EndedUtterance] = deque()  # closed by the gate, Vosk's final still to come
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
                if self._utterances is not None:
                    self._utterance_ended(self._utterances.take_ended(), self._endpoint_at)
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
        for utterance in self._ended:
            utterance.vosk.cancel()
        self._ended.clear()

    def _utterance_ended(
        self, job: PassJob | None, endpoint_at: float, vosk: tuple[Transcript, DecodeTiming] | None = None
    ) -> None:
        future: asyncio.Future[tuple[Transcript | None, DecodeTiming, float]]
        future = asyncio.get_running_loop().create_future()
        utterance = EndedUtterance(job, endpoint_at, future)
        if vosk is None:
            self._ended.append(utterance)  # Vosk's final comes with the decode of its end
        else:
            future.set_result((*vosk, time.monotonic()))
        assert self._on_utterance is not None
        self._on_utterance(utterance)

    async def _deliver_segment(self, results: list[Transcript], ended: bool, timing: DecodeTiming) -> None:
        """Transcripts of one stretch of events (ending where the gate closed, if `ended`).

        Without a second pass every transcript goes to `deliver`. With one, partials still do (barge-in),
        while finals belong to utterances: the finals of a stretch the gate closed are joined into that
        utterance's Vosk text; a final while the gate stays open (Vosk's own endpoint) ends an utterance
        of its own, read again from the audio so far.
        """
        reader = self._utterances
        if reader is None:
            for transcript in results:
                await self._deliver(transcript, timing)
            return
        for transcript in results:
            if not transcript.final:
                await self._deliver(transcript, timing)
        finals = [t for t in results if t.final and t.text]
        if ended:
            utterance = self._ended.popleft() if self._ended else None
            if utterance is not None and not utterance.vosk.done():
                utterance.vosk.set_result((_joined(finals), timing, time.monotonic()))
            return
        for final in finals:
            self._utterance_ended(reader.cut(), timing.endpoint_at, (final, timing))


def _joined(finals: list[Transcript]) -> Transcript | None:
    """One final transcript from Vosk's finals within one utterance (usually there is one)."""
    if len(finals) <= 1:
        return finals[0] if finals else None
    words = tuple(w for t in finals for w in t.words)
    confidence = sum(w.confidence for w in words) / len(words) if words else finals[-1].confidence
    return Transcript(" ".join(t.text for t in finals), final=True, confidence=confidence, words=words)


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
