"""Background jobs of the console (training a candidate, comparing it with production), one process's
own: each job runs in a thread, keeps its last output lines as progress and its result or error.

Training runs the real commands (`callbot data build`, then `callbot train --candidate`) as child
processes, so Rasa's memory and threads go away with them and the server keeps answering.
"""

from __future__ import annotations

import itertools
import logging
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console import ConsoleError

logger = logging.getLogger(__name__)
MAX_LINES = 200


@dataclass
class Job:
    id: int
    kind: str  # train, compare
    user: str
    state: str = "running"  # running, done, failed
    started: float = field(default_factory=time.time)
    ended: float | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LINES))
    result: Any = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "user": self.user,
            "state": self.state,
            "started": self.started,
            "ended": self.ended,
            "lines": list(self.lines),
            "error": self.error,
        }


class Jobs:
    """The jobs of one console process; one job of a kind runs at a time."""

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, job_id: int) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise ConsoleError(f"no job {job_id} (jobs live in the process that started them)")
        return job

    def latest(self, kind: str) -> Job | None:
        found = [j for j in self._jobs.values() if j.kind == kind]
        return found[-1] if found else None

    def start(self, kind: str, user: str, work: Callable[[Job], Any]) -> Job:
        """Run `work(job)` in a thread; its return value is the job's result, an exception its error."""
        with self._lock:
            running = [j for j in self._jobs.values() if j.kind == kind and j.state == "running"]
            if running:
                raise ConsoleError(
                    f"a {kind} job is already running (job {running[0].id}, by {running[0].user})"
                )
            job = Job(next(self._ids), kind, user)
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.result = work(job)
                job.state = "done"
            except Exception as exc:  # noqa: BLE001 - a failed job reports why; the server goes on
                job.error, job.state = str(exc), "failed"
                logger.error("console.job.failed id=%d kind=%s error=%s", job.id, kind, exc)
            finally:
                job.ended = time.time()
                logger.info("console.job.ended id=%d kind=%s state=%s", job.id, kind, job.state)

        threading.Thread(target=run, name=f"console-{kind}-{job.id}", daemon=True).start()
        return job


def run_commands(job: Job, commands: list[list[str]]) -> None:
    """Run each command in turn, its output lines becoming the job's progress; stop at the first failure."""
    for command in commands:
        job.lines.append("$ " + " ".join(command[-4:]))
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip():
                job.lines.append(line.rstrip())
        if process.wait() != 0:
            raise ConsoleError(f"{' '.join(command[-4:])} exited with {process.returncode}: {job.lines[-1]}")
