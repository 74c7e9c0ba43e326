"""The decode pool: threads (sized to the cores) for blocking decoder calls, the most urgent first.

Split from `stt.engine` (which re-exports `DecodePool`); works on any stream with `gate`, `decode` and
`flush` (`stt.engine.RecognitionStream`).
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stt import SttError
from stt.vad import SpeechEnd

if TYPE_CHECKING:
    from callbot.events import Transcript
    from stt.engine import RecognitionStream

_URGENT, _NORMAL = 0, 1  # DecodePool priorities: an utterance ended (a caller waits) / ongoing speech


class DecodePool:
    """Threads (sized to the cores) for blocking decoder calls, the most urgent first.

    Decoding is decoupled from the event loop: `run` gates a chunk on the calling thread (cheap), returns
    at once when there is nothing to decode, and queues the rest; chunks that end an utterance jump the
    queue ahead of other calls' ongoing speech, so the decode backlog of a busy server delays partials,
    not the final transcripts callers are waiting on.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._jobs: queue.PriorityQueue[tuple[int, int, _Job | None]] = queue.PriorityQueue()
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
        urgent = any(isinstance(e, SpeechEnd) for e in events)
        return await self._submit(_URGENT if urgent else _NORMAL, stream.decode, events)

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
        job = _Job(loop, loop.create_future(), fn, args)
        self._jobs.put((priority, next(self._order), job))
        return await job.future

    def _work(self) -> None:
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            job.run()


@dataclass
class _Job:
    """One blocking call whose outcome is handed back to the submitting event loop."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    fn: Any
    args: tuple[Any, ...]

    def run(self) -> None:
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
