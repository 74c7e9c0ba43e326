"""Call-log writes that survive a database outage and a crash: spooled to a local file, written in order.

Every write (start, turn, end, resume of a call) is appended to this process's spool file
(`<state_dir>/calllog-spool/<replica>.jsonl`) before it is tried, and the writer thread applies them
to the database in order. While the database is unreachable the writes wait in memory and in the
file, the thread retries every `retry_seconds`, and callers are not held up (`CallLog.submit` waits at
most `WAIT_SECONDS` for a write). The file is emptied whenever everything in it is written.

The spool file is locked (flock) by its process. A file nobody holds belongs to a process that died
(kill -9, power loss of the process) with writes in it: the writer adopts it (at start and every
`ADOPT_SECONDS`), so the rows of a killed replica are written by whichever replica on that machine
runs next. Writes are idempotent (`CallLog` skips a row it already has), so a write that reached the
database just before its process died is not stored twice.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

logger = logging.getLogger(__name__)
WAIT_SECONDS = 2.0  # longest a caller waits for its write (a hung database must not hold a call)
ADOPT_SECONDS = 5.0


@dataclass
class Write:
    op: str
    args: list[Any]
    kwargs: dict[str, Any]
    done: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)


def is_outage(exc: BaseException) -> bool:
    """True when the database did not answer (the write will work later), not when it refused the row."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class WriteBuffer:
    """The ordered, spooled write queue of one `CallLog` (see module doc)."""

    def __init__(
        self,
        apply: Callable[[str, list[Any], dict[str, Any]], Any],
        folder: Path,
        name: str,
        retry_seconds: float = 1.0,
    ) -> None:
        self._apply = apply
        self.folder = folder
        self.retry_seconds = retry_seconds
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.path = folder / f"{safe}-{os.getpid()}.jsonl"
        self._file = self.path.open("a+", encoding="utf-8")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._queue: deque[Write] = deque()
        self._cv = threading.Condition()
        self._stop = False
        self.error = ""  # why the database is not being written now ("" while it is)
        self.written = 0
        self._adopted_at = 0.0
        self._adopt()
        self._thread = threading.Thread(target=self._run, name="calllog-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Writes not yet in the database."""
        return len(self._queue)

    def add(self, op: str, args: list[Any], kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        """Spool the write, queue it; the future resolves once it is written (or fails for good)."""
        write = Write(op, args, kwargs)
        line = json.dumps({"op": op, "args": args, "kwargs": kwargs}, ensure_ascii=False, default=str)
        with self._cv:
            self._file.write(line + "\n")
            self._file.flush()
            self._queue.append(write)
            self._cv.notify()
        return write.done

    def close(self, timeout: float = 10.0) -> None:
        """Write what can be written within `timeout`; what cannot stays in the spool file for later."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._queue and not self.error and time.monotonic() < deadline:
                self._cv.wait(0.1)
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=max(0.1, deadline - time.monotonic()) + 5)
        with self._cv:
            empty = not self._queue
        if empty:
            self._file.close()
            self.path.unlink(missing_ok=True)
        else:
            logger.warning("telephony.calllog.spooled rows=%d file=%s", len(self._queue), self.path)
            self._file.close()  # unlocked: the next process on this machine adopts it

    # -- writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    self._cv.wait(ADOPT_SECONDS)
                    if not self._queue and time.monotonic() - self._adopted_at > ADOPT_SECONDS:
                        self._adopt_locked()
                if self._stop and (not self._queue or self.error):
                    return
                write = self._queue[0]
            try:
                result = self._apply(write.op, write.args, write.kwargs)
            except Exception as exc:  # noqa: BLE001 - sorted below: outage (retry) or bad row (drop)
                if is_outage(exc):
                    self._outage(exc, write)
                    continue
                logger.error("telephony.calllog.write_failed op=%s error=%s", write.op, exc)
                self._finish(write, exc=exc)
                continue
            if self.error:
                logger.warning("telephony.calllog.database_up pending=%d", len(self._queue))
                self.error = ""
            self._finish(write, result=result)

    def _outage(self, exc: BaseException, write: Write) -> None:
        first = not self.error
        self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if first:
            logger.warning(
                "telephony.calllog.database_down pending=%d error=%s", len(self._queue), self.error
            )
        if not write.done.done():
            write.done.set_result(None)  # buffered: the caller goes on, the row is written later
        with self._cv:
            if not self._stop:
                self._cv.wait(self.retry_seconds)

    def _finish(self, write: Write, result: Any = None, exc: BaseException | None = None) -> None:
        with self._cv:
            self._queue.popleft()
            self.written += 1
            if not self._queue:
                self._file.truncate(0)
                self._file.seek(0)
            self._cv.notify_all()
        if not write.done.done():
            if exc is not None:
                write.done.set_exception(exc)
            else:
                write.done.set_result(result)

    # -- orphaned spool files ----------------------------------------------------------------

    def _adopt(self) -> None:
        with self._cv:
            self._adopt_locked()

    def _adopt_locked(self) -> None:
        """Take over the writes of spool files no live process holds (theirs died)."""
        self._adopted_at = time.monotonic()
        for path in sorted(self.folder.glob("*.jsonl")):
            if path == self.path:
                continue
            try:
                handle = path.open("r+", encoding="utf-8")
            except OSError:
                continue
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its process is alive
                lines = handle.read().splitlines()
                writes = []
                for line in lines:
                    try:
                        item = json.loads(line)
                        writes.append(Write(item["op"], list(item["args"]), dict(item["kwargs"])))
                    except (ValueError, KeyError, TypeError):
                        continue  # the torn last line of a process killed mid-write
                for w in writes:
                    self._file.write(
                        json.dumps({"op": w.op, "args": w.args, "kwargs": w.kwargs}, ensure_ascii=False)
                        + "\n"
                    )
                self._file.flush()
                self._queue.extend(writes)
                path.unlink()
            if writes:
                logger.warning("telephony.calllog.adopted rows=%d file=%s", len(writes), path.name)
                self._cv.notify_all()
