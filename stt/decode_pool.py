"""The decode pool: threads (sized to the cores) for blocking decoder calls, the most urgent first.

Split from `stt.engine` (which re-exports `DecodePool`); works on any stream with `gate`, `decode` and
`flush` (`stt.engine.RecognitionStream`). Callers that gate audio as it arrives queue the decode of what
the gate let through with `submit`, and `promote` a queued job once its utterance turns out to have ended.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stt import SttError
from stt.vad import SpeechEnd

if TYPE_CHECKING:
    from callbot.events import Transcript
    from stt.engine import RecognitionStream
    from stt.vad import GateEvent

logger = logging.getLogger(__name__)
_URGENT, _NORMAL = 0, 1  # DecodePool priorities: an utterance ended (a caller waits) / ongoing speech


class DecodePool:
    """Threads (sized to the cores) for blocking decoder calls, the most urgent first.

    Decoding is decoupled from the event loop: `run` gates a chunk on the calling thread (cheap), returns
    at once when there is nothing to decode, and queues the rest; chunks that end an utterance jump the
    queue ahead of other calls' ongoing speech, so the decode backlog of a busy server delays partials,
    not the final transcripts callers are waiting on. With `nice`, the threads run that much nicer than
    the process (`stt.decode_nice`): when 40 callers stop talking at once, the bot's turns of the first
    finals no longer share the cores evenly with the other callers' decoding (bot p95 400 -> 70 ms).
    """

    def __init__(self, threads: int, nice: int = 0) -> None:
        self.threads = threads
        self.nice = nice
        self._jobs: queue.PriorityQueue[tuple[int, int, DecodeJob | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._workers = [
            threading.Thread(target=self._work, name=f"stt-decode-{i}", daemon=True) for i in range(threads)
        ]
        for worker in self._workers:
            worker.start()

    async def run(self, stream: RecognitionStream, pcm: bytes) -> list[Transcript]:
        """`stream.accept(pcm)` off the event loop. Await each call before sending the next chunk."""
        events = stream.gate(pcm)
        if not events:
            return []  # silence outside an utterance: nothing for the decoder
        return await self.submit(stream, events).future

    def submit(self, stream: RecognitionStream, events: list[GateEvent]) -> DecodeJob:
        """Queue `stream.decode(events)` (urgent when an utterance ends in them); call on the event loop.

        One job per stream at a time, in order: the caller submits the next once this one's future is done.
        """
        if self._closed:
            raise SttError("the decode pool is closed")
        urgent = any(isinstance(e, SpeechEnd) for e in events)
        loop = asyncio.get_running_loop()
        job = DecodeJob(self, loop, loop.create_future(), stream.decode, (events,))
        self._put(_URGENT if urgent else _NORMAL, job)
        return job

    async def flush(self, stream: RecognitionStream) -> Transcript | None:
        return await self._submit(_URGENT, stream.flush)

    def close(self) -> None:
        """Stop the threads after the calls they are running; queued calls are cancelled."""
        self._closed = True
        while True:
            try:
                _, _, job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
        for _ in self._workers:
            self._jobs.put((-1, next(self._order), None))

    async def _submit(self, priority: int, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise SttError("the decode pool is closed")
        loop = asyncio.get_running_loop()
        job = DecodeJob(self, loop, loop.create_future(), fn, args)
        self._put(priority, job)
        return await job.future

    def _put(self, priority: int, job: DecodeJob) -> None:
        self._jobs.put((priority, next(self._order), job))

    def _work(self) -> None:
        if self.nice:
            lower_priority(self.nice)
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            job.run()


@dataclass
class DecodeJob:
    """One blocking call whose outcome is handed back to the submitting event loop (`future`)."""

    pool: DecodePool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    fn: Any
    args: tuple[Any, ...]
    # Taken by the thread that runs the job: a promoted job sits in the queue twice but runs once.
    _claim: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def started(self) -> bool:
        return self._claim.locked()

    def promote(self) -> bool:
        """Move a job still waiting for a thread ahead of ongoing speech; False once it has started.

        A call whose utterance ended behind a queued chunk of its own speech waits for that chunk first,
        so that chunk becomes as urgent as the end itself.
        """
        if self.started or self.pool._closed:
            return False
        self.pool._put(_URGENT, self)
        return True

    def run(self) -> None:
        if not self._claim.acquire(blocking=False):
            return  # already run from its other place in the queue
        if self.future.cancelled():
            return
        try:
            result = self.fn(*self.args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the awaiting coroutine
            self._post(self._fail, exc)
        else:
            self._post(self._succeed, result)

    def cancel(self) -> None:
        self._post(lambda: self.future.cancelled() or self.future.cancel())

    def _post(self, fn: Any, *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody awaits the result any more
            pass

    def _succeed(self, result: Any) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def _fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


def lower_priority(nice: int) -> None:
    """Make the calling thread `nice` steps nicer than the process (Linux: threads have their own nice)."""
    try:
        tid = threading.get_native_id()
        target = min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice)
        os.setpriority(os.PRIO_PROCESS, tid, target)
    except (AttributeError, OSError) as exc:  # not Linux, or not permitted: same priority as the rest
        logger.warning("stt.decode_pool.nice_unavailable nice=%d error=%s", nice, exc)
