"""The second pass at run time: a bounded pool of readers, jobs that can be started early and dropped,
and the rule that picks the text a turn goes on with.

No queue: a job starts only when a reader is free. When every reader is busy, or a reading is not done
by the turn's deadline, the turn goes on with Vosk's text at once (a caller never waits behind other
callers), and the fallback is counted. Jobs are started speculatively when the caller's speech stops
(inside the endpoint window, `stt.second_pass.utterances`) and cancelled when the caller goes on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from stt.decode_pool import lower_priority
from stt.second_pass.engines import ENGINES, Reading, SecondPassEngine
from stt.second_pass.settings import SecondPassSettings

logger = logging.getLogger(__name__)

LOW_CONFIDENCE = 0.3  # Vosk's text after the second pass rejected what it heard: doubt it too
USED, BUSY, LATE, FAILED, CANCELLED, OFF = "used", "busy", "late", "failed", "cancelled", "off"


@dataclass
class PassJob:
    """One utterance being read. `wait` gives the reading and its outcome for the turn."""

    speculative: bool
    future: Future[Reading | None] | None = None
    refused: str | None = None  # BUSY when no reader was free
    started_at: float = field(default_factory=time.monotonic)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        """The caller went on speaking: stop after the current step and drop the result."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def done(self) -> bool:
        return self.refused is not None or (self.future is not None and self.future.done())

    async def wait(self, timeout: float) -> tuple[Reading | None, str]:
        """(reading, outcome) within `timeout` seconds; outcome is used, rejected:<guard>, busy, late,
        failed or cancelled. A late reading keeps running; its result is simply not used."""
        if self.refused is not None or self.future is None:
            return None, self.refused or FAILED
        try:
            if not self.future.done():  # (a done future is read at once: wrapping it would take a loop turn)
                if timeout <= 0:
                    return None, LATE
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self.future)), timeout)
            reading = self.future.result()
        except TimeoutError:
            return None, LATE
        except Exception as exc:  # noqa: BLE001 - a failed reading leaves the turn to Vosk
            logger.warning("stt.second_pass.failed error=%s", exc)
            return None, FAILED
        if reading is None:
            return None, CANCELLED
        return reading, USED if reading.rejected is None else f"rejected:{reading.rejected}"


@dataclass(frozen=True)
class Choice:
    """The text a turn goes on with, where it came from, and what became of the second pass."""

    text: str
    confidence: float
    source: str  # "whisper" (the second pass's engine) or "vosk"
    outcome: str  # used | rejected:<guard> | busy | late | failed | cancelled | off
    second_text: str | None = None  # the second pass's text, used or not
    second_ms: float | None = None  # how long the reading took
    vosk_text: str = ""  # the streaming pass's text, used or not
    # n-best of the second pass, used or not: (text, posterior), best first (`Reading.alternatives`)
    second_alternatives: tuple[tuple[str, float], ...] = ()

    @property
    def alternatives(self) -> tuple[tuple[str, float], ...]:
        """The second pass's n-best when its text is the turn's (the bot may re-read the turn with them)."""
        return self.second_alternatives if self.source != "vosk" else ()


def choose(
    vosk_text: str, vosk_confidence: float, reading: Reading | None, outcome: str, engine: str
) -> Choice:
    """Whisper's text when its reading passed the guards; else Vosk's (doubted after a rejection)."""
    second_text = reading.text if reading is not None else None
    second_ms = round(reading.seconds * 1000, 1) if reading is not None else None
    alternatives = reading.alternatives if reading is not None else ()
    if reading is not None and outcome == USED:
        return Choice(
            reading.text, reading.confidence, engine, outcome, second_text, second_ms, vosk_text, alternatives
        )
    confidence = min(vosk_confidence, LOW_CONFIDENCE) if outcome.startswith("rejected") else vosk_confidence
    return Choice(vosk_text, confidence, "vosk", outcome, second_text, second_ms, vosk_text, alternatives)


class SecondPass:
    """A loaded engine and `settings.workers` readers; thread-safe; `stats` counts outcomes."""

    def __init__(self, engine: SecondPassEngine, settings: SecondPassSettings, nice: int = 0) -> None:
        self.engine = engine
        self.settings = settings
        self.name = engine.name
        self._free = threading.BoundedSemaphore(settings.workers)
        niced = {"initializer": lower_priority, "initargs": (nice,)} if nice else {}
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="stt-second", **niced)
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self._closed = False

    @classmethod
    def load(cls, settings: SecondPassSettings, nice: int = 0) -> SecondPass | None:
        """The configured engine, loaded; None for `engine: none`.

        With `nice` (`stt.engine.reader_nice`: stt.decode_nice + second_pass.nice_offset), the engine is
        loaded on a thread that much nicer than the process: CTranslate2's worker threads, started by the
        load, inherit it. Reading then gives way to Vosk's decoding, and both to the event loop and the
        bot's turns.
        """
        engine_cls = ENGINES[settings.engine]
        if engine_cls is None:
            return None
        started = time.monotonic()
        niced = {"initializer": lower_priority, "initargs": (nice,)} if nice else {}
        with ThreadPoolExecutor(1, thread_name_prefix="stt-second-load", **niced) as ex:
            engine = ex.submit(engine_cls.load, settings).result()
        logger.info(
            "stt.second_pass.loaded engine=%s seconds=%.1f", settings.engine, time.monotonic() - started
        )
        return cls(engine, settings, nice)

    def start(self, pcm16: bytes, sample_rate: int, prompt: str = "", speculative: bool = False) -> PassJob:
        """Begin reading now if a reader is free; else a job refused as busy (counted)."""
        job = PassJob(speculative=speculative)
        if self._closed or not self._free.acquire(blocking=False):
            job.refused = BUSY
            return job
        self.count("speculative" if speculative else "started")
        try:
            job.future = self._pool.submit(self._run, job, pcm16, sample_rate, prompt)
        except RuntimeError:  # the pool was shut down meanwhile
            self._free.release()
            job.refused = BUSY
        return job

    def read(self, pcm16: bytes, sample_rate: int, prompt: str = "") -> Reading | None:
        """Read an utterance on the calling thread, waiting for a free reader (offline tools)."""
        with self._free:
            return self.engine.read(pcm16, sample_rate, prompt)

    def count(self, outcome: str) -> None:
        with self._lock:
            self.stats[outcome] += 1

    def settle(self, choice: Choice) -> None:
        """Count what became of a turn's second pass (the fallbacks operators watch)."""
        self.count(choice.outcome.split(":")[0])
        if choice.outcome.startswith("rejected:"):
            self.count(choice.outcome)

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.engine.close()

    def _run(self, job: PassJob, pcm16: bytes, sample_rate: int, prompt: str) -> Reading | None:
        try:
            if job.cancelled:
                return None
            return self.engine.read(pcm16, sample_rate, prompt, lambda: job.cancelled)
        finally:
            self._free.release()
