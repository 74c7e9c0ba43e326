"""Background jobs of the console (training a candidate, comparing it with production). Each runs in a
thread of the console process that started it; its state (kind, who, running / done / failed, the last
output lines as progress, start and end, error, result) is kept in the call-log database
(`console_jobs`), so the pages of every console replica show it.

While a job runs, its process writes the progress and a heartbeat every `tick` seconds. A running job
whose heartbeat is older than `lost_after` seconds is read as `lost`: its process died (or hangs), and
it no longer blocks a new job of its kind. One job of a kind runs at a time across all replicas.

Training runs the real commands (`callbot data build`, then `callbot train --candidate`) as child
processes, so Rasa's memory and threads go away with them and the server keeps answering.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from console import ConsoleError
from console.store import jobs_table

logger = logging.getLogger(__name__)
MAX_LINES = 200
LOST = "lost"
_LOCK_KEY = zlib.crc32(b"callbot-console-jobs")  # PostgreSQL advisory lock around starting a job


@dataclass
class Job:
    id: int
    kind: str  # train, compare
    user: str
    state: str = "running"  # running, done, failed; read from the database also: lost
    started: float = field(default_factory=time.time)
    ended: float | None = None
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LINES))
    # The work's return value in the process that ran it; read from the database, its JSON form.
    result: Any = None
    error: str = ""
    heartbeat: float | None = None
    owner: str = ""  # host:pid of the console process running it

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "user": self.user,
            "state": self.state,
            "started": self.started,
            "ended": self.ended,
            "heartbeat": self.heartbeat,
            "owner": self.owner,
            "lines": list(self.lines),
            "error": self.error,
        }


def owner_name() -> str:
    """This process, as a job's owner is shown: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Jobs:
    """The console's jobs, in the database; the ones this process runs are also kept here until their
    end is written. `clock`: wall-clock seconds (replicas compare heartbeats with their own clock)."""

    def __init__(
        self,
        engine: sa.engine.Engine,
        lost_after: float = 60.0,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.lost_after = lost_after
        self.tick = tick
        self.clock = clock
        self.owner = owner or owner_name()
        self._local: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def get(self, job_id: int) -> Job:
        with self.engine.connect() as db:
            row = db.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).mappings().first()
        if row is None:
            raise ConsoleError(f"no job {job_id}")
        return self._job(row)

    def latest(self, kind: str) -> Job | None:
        """The newest job of a kind, from whichever replica started it."""
        query = sa.select(jobs_table).where(jobs_table.c.kind == kind).order_by(jobs_table.c.id.desc())
        with self.engine.connect() as db:
            row = db.execute(query.limit(1)).mappings().first()
        return self._job(row) if row is not None else None

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs of every kind, newest first."""
        query = sa.select(jobs_table).order_by(jobs_table.c.id.desc()).limit(limit)
        with self.engine.connect() as db:
            return [self._job(row) for row in db.execute(query).mappings()]

    def start(self, kind: str, user: str, work: Callable[[Job], Any]) -> Job:
        """Run `work(job)` in a thread; its return value is the job's result (kept as JSON: its
        `to_dict()`), an exception its error. Refused while a job of the kind runs on any replica."""
        now = self.clock()
        t = jobs_table.c
        with self.engine.begin() as db:
            # The insert and the look for another running job are one transaction: SQLite's write lock
            # (taken by the insert), PostgreSQL's advisory lock, make two replicas' starts take turns.
            if db.dialect.name == "postgresql":
                db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            values = dict(kind=kind, user=user, state="running", progress="", owner=self.owner)
            job_id = int(
                db.execute(
                    jobs_table.insert().values(**values, started=now, heartbeat=now)
                ).inserted_primary_key[0]
            )
            other = db.execute(
                sa.select(t.id, t.user)
                .where(
                    t.kind == kind,
                    t.state == "running",
                    t.id != job_id,
                    t.heartbeat >= now - self.lost_after,
                )
                .order_by(t.id)
                .limit(1)
            ).first()
            if other is not None:  # leaving the block rolls the insert back
                raise ConsoleError(f"a {kind} job is already running (job {other.id}, by {other.user})")
        job = Job(job_id, kind, user, started=now, heartbeat=now, owner=self.owner)
        with self._lock:
            self._local[job.id] = job
            if self._beat is None:
                self._beat = threading.Thread(
                    target=self._beating, name="console-jobs-heartbeat", daemon=True
                )
                self._beat.start()
        threading.Thread(
            target=self._run, args=(job, work), name=f"console-{kind}-{job.id}", daemon=True
        ).start()
        logger.info("console.job.started id=%d kind=%s user=%s owner=%s", job.id, kind, user, self.owner)
        return job

    def close(self) -> None:
        """Stop writing heartbeats (jobs still running here will read as lost)."""
        self._stop.set()

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        state, result = "done", None
        try:
            result = work(job)
        except Exception as exc:  # noqa: BLE001 - a failed job reports why; the server goes on
            state, job.error = "failed", str(exc)
            logger.error("console.job.failed id=%d kind=%s error=%s", job.id, job.kind, exc)
        job.result, job.ended = result, self.clock()
        if self._write(job, state):
            with self._lock:
                self._local.pop(job.id, None)
        job.state = state  # after the database has it (else the heartbeat thread writes it later)
        logger.info("console.job.ended id=%d kind=%s state=%s", job.id, job.kind, state)

    def _beating(self) -> None:
        """Every `tick`: each running job's progress and heartbeat; an end not yet written, again."""
        while not self._stop.wait(self.tick):
            with self._lock:
                jobs = list(self._local.values())
                if not jobs:
                    self._beat = None
                    return
            for job in jobs:
                if job.ended is None:
                    self._write(job)
                elif job.state != "running" and self._write(job, job.state):
                    with self._lock:
                        self._local.pop(job.id, None)

    def _write(self, job: Job, state: str | None = None) -> bool:
        """The job's progress and heartbeat, and with `state` its end; False when the database failed."""
        now = self.clock()
        values: dict[str, Any] = {"progress": "\n".join(job.lines.copy()), "heartbeat": now}
        if state is not None:
            values.update(
                state=state, ended=job.ended, error=job.error or None, result=_result_json(job.result)
            )
        try:
            with self.engine.begin() as db:
                db.execute(jobs_table.update().where(jobs_table.c.id == job.id).values(**values))
        except SQLAlchemyError as exc:
            logger.warning("console.job.unsaved id=%d error=%s", job.id, exc)
            return False
        job.heartbeat = now
        return True

    def _job(self, row: Any) -> Job:
        state = row["state"]
        if state == "running" and row["heartbeat"] < self.clock() - self.lost_after:
            state = LOST
        return Job(
            id=int(row["id"]),
            kind=row["kind"],
            user=row["user"],
            state=state,
            started=row["started"],
            ended=row["ended"],
            lines=deque((row["progress"] or "").splitlines(), maxlen=MAX_LINES),
            result=json.loads(row["result"]) if row["result"] else None,
            error=row["error"] or "",
            heartbeat=row["heartbeat"],
            owner=row["owner"] or "",
        )


def _result_json(result: Any) -> str | None:
    if result is None:
        return None
    value = result.to_dict() if hasattr(result, "to_dict") else result
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps({"repr": repr(value)}, ensure_ascii=False)


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
