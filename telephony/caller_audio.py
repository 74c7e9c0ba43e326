"""One call's inbound audio on its way to the recognizer: loudness, backlog limit, saved audio, decoding.

With a recognizer that has a decode pool (`stt.engine.SpeechRecognizer`), each frame is gated as it
arrives and decoded behind the gate (`telephony.decoding.StreamDecoder`). Other recognizers (test fakes)
get batches of frames through `accept` in the executor. Either way, audio waiting for the recognizer is
bounded (`MAX_BACKLOG_FRAMES`: older frames are dropped and counted) and, with `save_audio`, each
utterance's PCM is kept for the call log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np

from stt.codec import ulaw_decode, ulaw_to_pcm16
from stt.second_pass.utterances import UtteranceReader
from telephony import protocol
from telephony.decoding import Deliver, EndedUtterance, StreamDecoder
from telephony.turn_timing import DecodeTiming, arrival, wait_ms

MAX_BACKLOG_FRAMES = 250  # 5 s of caller audio waiting for the recognizer: older frames are dropped
MAX_UTTERANCE_BYTES = 8000 * 2 * 60  # caller audio kept per turn for save_audio (60 s of PCM)
MAX_BATCH_FRAMES = 50  # frames per `accept` call on the executor path


class CallerAudio:
    """Caller frames -> recognizer -> `deliver(transcript, timing)`; counts frames in and dropped."""

    def __init__(
        self, deliver: Deliver, save_audio: bool, on_utterance: Callable[[EndedUtterance], None] | None = None
    ) -> None:
        self.stats = {"frames_in": 0, "frames_dropped": 0}
        self._deliver = deliver
        self._on_utterance = on_utterance
        self._save = save_audio
        self._queue: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()  # (mu-law, arrival)
        self._fed = 0  # samples handed to the recognizer so far (its input-stream clock)
        self._decoder: StreamDecoder | None = None
        self._recognition: Any = None
        self._executor: Executor | None = None
        self._utterance = bytearray()

    def start(
        self, recognizer: Any, recognition: Any, executor: Executor | None
    ) -> Callable[[], Awaitable[None]]:
        """Bind the call's recognition stream; returns the task that decodes behind `push`."""
        pool = getattr(recognizer, "pool", None)
        if pool is not None and hasattr(recognition, "gate"):
            second = getattr(recognizer, "second_pass", None)
            reader = None
            if second is not None and self._on_utterance is not None:
                reader = UtteranceReader(second, protocol.PHONE_RATE)
            self._decoder = StreamDecoder(
                pool, recognition, self._deliver, utterances=reader, on_utterance=self._on_utterance
            )
            return self._decoder.run
        self._recognition, self._executor = recognition, executor
        return self._accept_batches

    def push(self, payload: bytes) -> bool:
        """Take one caller frame (mu-law); returns whether it was loud (the caller is talking).

        Loudness is judged before the backlog limit: a caller who talks is not silent, whether or not
        the recognizer has caught up.
        """
        self.stats["frames_in"] += 1
        now = time.monotonic()
        loud = _loud(payload)
        if self.backlog_frames() >= MAX_BACKLOG_FRAMES:
            self.stats["frames_dropped"] += 1
            return loud
        if self._decoder is not None:
            # Gated at once (cheap, no task hop per frame): an utterance's end is seen as its frame
            # arrives, whatever the decoder is busy with.
            batch = [(payload, now)]
            self._decoder.feed(*self._take_pcm(batch), batch)
        else:
            self._queue.put_nowait((payload, now))
        return loud

    def close(self) -> None:
        """The call ended: drop second-pass readings still under way for it."""
        if self._decoder is not None:
            self._decoder.close()

    def backlog_frames(self) -> int:
        """Caller frames not yet through the recognizer: queued, or gated and waiting to be decoded."""
        waiting = self._decoder.backlog_samples if self._decoder is not None else 0
        return self._queue.qsize() + waiting // protocol.FRAME_BYTES

    def take_utterance(self) -> bytes:
        """The PCM kept since the last call (empty unless save_audio), and start afresh."""
        pcm, self._utterance = bytes(self._utterance), bytearray()
        return pcm

    async def _accept_batches(self) -> None:
        """A recognizer without a decode pool: batches of caller audio through `accept` in the executor."""
        loop = asyncio.get_running_loop()
        while (batch := await self._next_batch()) is not None:
            pcm, first = self._take_pcm(batch)
            started = time.monotonic()
            results = await loop.run_in_executor(self._executor, self._recognition.accept, pcm)
            timing = DecodeTiming(
                stt_ms=(time.monotonic() - started) * 1000,
                wait_ms=wait_ms(self._recognition, started),
                endpoint_at=arrival(batch, first, getattr(self._recognition, "endpoint_sample", None)),
            )
            for transcript in results:
                await self._deliver(transcript, timing)

    async def _next_batch(self) -> list[tuple[bytes, float]] | None:
        """The caller frames waiting (at least one, at most `MAX_BATCH_FRAMES`), None at the end."""
        item = await self._queue.get()
        if item is None:
            return None
        batch = [item]
        while not self._queue.empty() and len(batch) < MAX_BATCH_FRAMES:
            nxt = self._queue.get_nowait()
            if nxt is None:
                break
            batch.append(nxt)
        return batch

    def _take_pcm(self, batch: list[tuple[bytes, float]]) -> tuple[bytes, int]:
        """PCM of a batch (kept for save_audio) and its first sample's index in the call's audio."""
        pcm = ulaw_to_pcm16(b"".join(payload for payload, _ in batch))
        if self._save and len(self._utterance) < MAX_UTTERANCE_BYTES:
            self._utterance += pcm
        first, self._fed = self._fed, self._fed + len(pcm) // 2
        return pcm, first


def _quiet_codes(threshold: int) -> bytes:
    """The mu-law codes whose sample magnitude is at most `threshold`."""
    samples = ulaw_decode(np.arange(256, dtype=np.uint8)).astype(np.int32)
    return bytes(int(c) for c in np.flatnonzero(np.abs(samples) <= threshold))


_QUIET = _quiet_codes(600)  # ~-35 dBFS


def _loud(ulaw: bytes) -> bool:
    """Whether a mu-law frame has any sample above ~-35 dBFS (speech or noise, not line silence).

    Runs for every inbound frame of every call: deleting the quiet codes (C speed) beats decoding.
    """
    return bool(ulaw.translate(None, _QUIET))
