"""Readiness of a replica (`GET /readyz`): models loaded, not draining, Redis and the databases answering.

Each dependency check runs on a thread of its own with a time limit. Requests that arrive while a check
runs share it (the balancer checks for both its backends at once); a check hanging for longer than the
limit (a paused server) is reported down without starting another, so a dead dependency never piles
up threads or holds the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)
CHECK_SECONDS = 1.5


class Readiness:
    """Named dependency checks (each a blocking function that raises when the dependency is down)."""

    def __init__(self, checks: dict[str, Callable[[], None]], timeout: float = CHECK_SECONDS) -> None:
        self.timeout = timeout
        self._checks = checks
        self._threads = {
            name: concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"readyz-{name}")
            for name in checks
        }
        self._inflight: dict[str, tuple[concurrent.futures.Future[None], float]] = {}
        self.last: dict[str, str] = dict.fromkeys(checks, "unknown")

    async def report(self) -> dict[str, str]:
        """name -> "ok" or "down: why", for every check, within about `timeout` seconds."""
        results = await asyncio.gather(*(self._one(name) for name in self._checks))
        self.last = dict(zip(self._checks, results, strict=True))
        return dict(self.last)

    async def _one(self, name: str) -> str:
        running = self._inflight.get(name)
        if running is None or running[0].done():  # a new check (several requests share a running one)
            running = (self._threads[name].submit(self._checks[name]), time.monotonic())
            self._inflight[name] = running
        future, started = running
        left = self.timeout - (time.monotonic() - started)
        try:
            if left <= 0:
                raise TimeoutError
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), left)
        except TimeoutError:
            return f"down: no answer within {self.timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure of a check means "down", with why
            first = str(exc).splitlines()[0] if str(exc) else ""
            return f"down: {type(exc).__name__}: {first}"
        return "ok"

    def close(self) -> None:
        for pool in self._threads.values():
            pool.shutdown(wait=False, cancel_futures=True)
