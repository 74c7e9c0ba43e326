"""Training the models `callbot train` found changed: one after another, or several at once in worker processes.

Most of a model's training is single-threaded Python (Rasa's graph, tokenising and featurising the
examples, tracing DIET's training step, the logistic regression, packaging) and DIET's small sparse
batches keep TensorFlow on about one core too, so on a 2-core machine two models training side by side
finish sooner than one after the other (`bot.train_workers`). Workers are spawned processes, each
training whole models, largest first; a failure or an interrupt stops them all. With a held-out split
to calibrate on, the worker then loads the model it wrote and parses every held-out text with it
(bot.nlu.heldout), so calibration in the main process loads no model.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.models import ROUTER

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, str], None]  # (model name, message)


class TrainingError(Exception):
    """Training could not run or failed; the previous current version is untouched."""


@dataclass(frozen=True)
class Job:
    """One model to train: its project folder, its generated Rasa config, the archive to write, and the
    held-out split its parses are kept of (none: no calibration)."""

    name: str
    project: Path
    config: Path
    output: Path
    held_out: Path | None = None

    def size(self) -> int:
        """Bytes of training data: the order in which jobs start (the largest first)."""
        return sum(f.stat().st_size for f in (self.project / "data").rglob("*") if f.is_file())


def train_jobs(
    jobs: list[Job],
    workers: int,
    say: ProgressFn,
    meanwhile: Callable[[], None] | None = None,
    last: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Train every job; seconds per model name. With `workers` > 1 (and more than one job) they are
    trained that many at a time in spawned worker processes, `meanwhile` runs here while they do, and
    `last` as soon as a worker has no job left (its core would idle while the last jobs finish); else
    everything runs in this process, `meanwhile` and `last` after the jobs."""
    if workers <= 1 or len(jobs) <= 1:
        seconds = {}
        for job in jobs:
            say(job.name, "training")
            seconds[job.name] = train_job(job)
            say(job.name, f"trained in {seconds[job.name]:.1f} s")
            _say_parsed(job.name, parse_held_out(job), say)
        for step in (meanwhile, last):
            if step is not None:
                step()
        return seconds
    ordered = sorted(jobs, key=lambda j: (j.name != ROUTER, -j.size()))
    n = min(workers, len(jobs))
    say("all", f"training {', '.join(j.name for j in ordered)} ({n} at a time)")
    threads = max(1, (os.cpu_count() or 1) // n)  # the workers share the cores instead of each taking all
    pool = multiprocessing.get_context("spawn").Pool(n, _quiet_worker, (logging.getLogger().level, threads))
    try:
        seconds = {}
        for job in ordered:
            say(job.name, "training")
        done = pool.imap_unordered(_timed_job, ordered)  # the workers start on it now
        if meanwhile is not None:
            meanwhile()
        for name, secs, parsed in done:
            seconds[name] = secs
            say(name, f"trained in {secs:.1f} s")
            _say_parsed(name, parsed, say)
            if last is not None and len(ordered) - len(seconds) < n:  # a worker has nothing left to do
                last()
                last = None
        pool.close()
    except BaseException:
        pool.terminate()  # the others' work is lost anyway: the version is not written
        raise
    finally:
        pool.join()
    return seconds


def train_job(job: Job) -> float:
    """Train one Rasa model; its wall-clock seconds. Rasa prints its own progress and success lines: they
    are kept out of the command's output (logged at DEBUG) and shown only when training fails."""
    from bot.nlu.graph_train import train_model

    started = time.monotonic()
    printed = io.StringIO()
    domain = None if job.name == ROUTER else job.project / "domain.yml"
    try:
        with contextlib.redirect_stdout(printed):
            path = train_model(job.config, job.project / "data", job.output, domain)
    except (Exception, SystemExit) as exc:  # Rasa exits on some invalid data; report it as ours
        raise TrainingError(f"{job.project}: Rasa training failed: {exc}{_tail(printed)}") from exc
    finally:
        logger.debug("bot.train.rasa_output model=%s\n%s", job.name, printed.getvalue())
    if not path.is_file():
        raise TrainingError(f"{job.project}: Rasa training produced no model{_tail(printed)}")
    return round(time.monotonic() - started, 1)


def parse_held_out(job: Job) -> tuple[int, float] | None:
    """The held-out split parsed with the model just written, saved beside it: (texts, seconds)."""
    if job.held_out is None:
        return None
    from bot.nlu.heldout import parse_archive

    try:
        return parse_archive(job.output, job.held_out)
    except Exception as exc:  # a model that does not load or parse must not become a version
        raise TrainingError(f"{job.output}: parsing the held-out split {job.held_out} failed: {exc}") from exc


def _timed_job(job: Job) -> tuple[str, float, tuple[int, float] | None]:
    return job.name, train_job(job), parse_held_out(job)


def _say_parsed(name: str, parsed: tuple[int, float] | None, say: ProgressFn) -> None:
    if parsed is not None:
        say(name, f"parsed {parsed[0]} held-out texts in {parsed[1]:.1f} s")


def _quiet_worker(root_level: int, threads: int) -> None:
    """A worker logs as the parent's root logger does (the CLI keeps libraries at ERROR); below that,
    the libraries' Python warnings stay out of the command's output as in the parent. TensorFlow gets
    `threads` threads per pool: with a pool per core, idle pool threads spinning on a busy machine cost
    CPU the other worker needs."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    logging.basicConfig(level=root_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if root_level > logging.WARNING:
        warnings.filterwarnings("ignore")
        warnings.showwarning = _no_warning  # libraries that reset the filters on import stay quiet too


def _no_warning(*_args: object, **_kwargs: object) -> None:
    return None


def _tail(printed: io.StringIO, lines: int = 15) -> str:
    text = printed.getvalue().strip()
    return "\nRasa said:\n" + "\n".join(text.splitlines()[-lines:]) if text else ""
