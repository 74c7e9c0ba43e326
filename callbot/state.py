"""Shared call state for several replicas: the `state` config section and the link to Redis.

Without `state.redis_url` (the default) every call's state lives in the one process that serves it.
With it, the dialogue state of each call (bot/dialogue_state.py) and its progress (telephony/
call_state.py) are written to Redis at every turn, so any replica can take a call over.

`RedisLink` owns the connection pool and knows whether Redis answers: an operation that fails or takes
longer than `state.timeout_seconds` marks Redis down, later operations fail fast (`StateUnavailable`)
instead of waiting on a dead server, and a probe thread pings every `state.retry_seconds` until it
answers again, then tells its listeners (who write what they could not).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from callbot.config import Config

logger = logging.getLogger(__name__)
T = TypeVar("T")


class StateUnavailable(Exception):
    """Redis is unreachable (or was, moments ago): the caller keeps its state in-process."""


@dataclass(frozen=True)
class StateSettings:
    redis_url: str = ""  # empty: one process, in-memory state
    key_prefix: str = "callbot"  # every key starts with "<prefix>:"
    call_ttl_seconds: float = 3600.0  # a live call's state expires this long after its last turn
    ended_ttl_seconds: float = 300.0  # an ended call is remembered this long (a late reconnect hangs up)
    timeout_seconds: float = 0.5  # a Redis operation slower than this counts as an outage
    retry_seconds: float = 1.0  # while Redis is down, ping it this often
    lock_lifetime_seconds: float = 20.0  # Rasa's per-call ticket lock (longer than any turn)
    replica_id: str = ""  # names this process in logs, metrics and spool files; "" = host:port

    @property
    def shared(self) -> bool:
        return bool(self.redis_url)


def read_state_settings(config: Config) -> StateSettings:
    """Validate the `state` section; raises `ConfigError` listing every bad key."""
    r = config.reader("state")
    d = StateSettings()
    url = r.value("redis_url", d.redis_url, str, _redis_url_check)
    prefix = r.value("key_prefix", d.key_prefix, str, _prefix_check)
    settings = StateSettings(
        redis_url=url or "",
        key_prefix=prefix,
        call_ttl_seconds=r.float("call_ttl_seconds", d.call_ttl_seconds, min=60.0, max=7 * 86400.0),
        ended_ttl_seconds=r.float("ended_ttl_seconds", d.ended_ttl_seconds, min=1.0, max=86400.0),
        timeout_seconds=r.float("timeout_seconds", d.timeout_seconds, min=0.05, max=30.0),
        retry_seconds=r.float("retry_seconds", d.retry_seconds, min=0.05, max=60.0),
        lock_lifetime_seconds=r.float("lock_lifetime_seconds", d.lock_lifetime_seconds, min=1.0, max=600.0),
        replica_id=r.str("replica_id", d.replica_id),
    )
    r.done(known=tuple(StateSettings.__dataclass_fields__))
    return settings


def replica_name(settings: StateSettings, port: int) -> str:
    """`state.replica_id`, else host:port (unique per process on a machine)."""
    return settings.replica_id or f"{socket.gethostname()}:{port}"


class RedisLink:
    """The Redis connection pool of this process and whether Redis answers now (see module doc).

    `RedisLink.memory()` is the same interface over a `MemoryStore` in this process (no `state.redis_url`):
    one code path for one process and for a cluster.
    """

    def __init__(self, settings: StateSettings, password: str | None = None, client: Any = None) -> None:
        import redis

        self.settings = settings
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.shared = client is None or not isinstance(client, MemoryStore)
        if client is None:
            extra = {"password": password} if password else {}
            client = redis.Redis.from_url(
                settings.redis_url,
                socket_timeout=settings.timeout_seconds,
                socket_connect_timeout=settings.timeout_seconds,
                **extra,
            )
        self.client = client
        self.error = ""  # why Redis is down; "" while it answers
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._probe = threading.Thread(target=self._probe_loop, name="callbot-redis-probe", daemon=True)
        if self.shared:
            self._probe.start()

    @classmethod
    def memory(cls, settings: StateSettings | None = None) -> RedisLink:
        """A link to an in-process store: the state of a single process (the default)."""
        return cls(settings or StateSettings(), client=MemoryStore())

    @property
    def up(self) -> bool:
        return not self.error

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions that mean Redis did not answer (callers that use the client directly)."""
        return self._errors

    def key(self, *parts: str) -> str:
        return ":".join((self.settings.key_prefix, *parts))

    def run(self, op: Callable[[Any], T]) -> T:
        """`op(client)`, or `StateUnavailable` at once while Redis is known to be down."""
        if self.error:
            raise StateUnavailable(self.error)
        try:
            return op(self.client)
        except self._errors as exc:
            self.mark_down(exc)
            raise StateUnavailable(self.error) from exc

    def ping(self) -> str:
        """ "" when Redis answers a PING now, else why not (marks it down)."""
        try:
            self.client.ping()
        except self._errors as exc:
            self.mark_down(exc)
            return self.error
        self._mark_up()
        return ""

    def mark_down(self, exc: BaseException) -> None:
        with self._lock:
            first = not self.error
            self.error = f"{type(exc).__name__}: {exc}"
        if first:
            logger.warning("callbot.state.redis_down error=%s", self.error)
            self._wake.set()

    def on_recovered(self, listener: Callable[[], None]) -> None:
        """Call `listener()` (on the probe thread) each time Redis answers again after an outage."""
        self._listeners.append(listener)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._probe.is_alive():
            self._probe.join(timeout=5)
        self.client.close()

    def _mark_up(self) -> None:
        with self._lock:
            was_down, self.error = bool(self.error), ""
        if was_down:
            logger.warning("callbot.state.redis_up")
            for listener in list(self._listeners):
                try:
                    listener()
                except Exception:  # noqa: BLE001 - one listener's failure must not stop the others
                    logger.exception("callbot.state.recovery_listener_failed")

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            if self.error:
                try:
                    self.client.ping()
                except self._errors:
                    pass
                else:
                    self._mark_up()
                self._stop.wait(self.settings.retry_seconds)
            else:
                self._wake.wait()
                self._wake.clear()


class MemoryStore:
    """The few Redis commands callbot uses (GET, SET with EX/NX, DELETE, MULTI/EXEC, PING), in memory,
    for one process. Values are bytes, as Redis returns them; expired keys vanish."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.RLock()
        self._clock = clock
        self._sets = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[1] is not None and item[1] <= self._clock():
                del self._data[key]
                return None
            return item[0]

    def set(self, key: str, value: str | bytes, ex: float | None = None, nx: bool = False) -> bool:
        with self._lock:
            if nx and self.get(key) is not None:
                return False
            data = value.encode() if isinstance(value, str) else value
            self._data[key] = (data, self._clock() + ex if ex else None)
            self._sets += 1
            if self._sets % 1000 == 0:
                now = self._clock()
                for k in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
                    del self._data[k]
            return True

    def delete(self, *keys: str) -> int:
        with self._lock:
            return sum(self._data.pop(k, None) is not None for k in keys)

    def ping(self) -> bool:
        return True

    def pipeline(self, transaction: bool = True) -> _MemoryPipeline:
        return _MemoryPipeline(self)

    def close(self) -> None:
        pass


class _MemoryPipeline:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._ops: list[Callable[[], Any]] = []

    def set(self, key: str, value: str | bytes, ex: float | None = None, nx: bool = False) -> None:
        self._ops.append(lambda: self._store.set(key, value, ex=ex, nx=nx))

    def delete(self, *keys: str) -> None:
        self._ops.append(lambda: self._store.delete(*keys))

    def execute(self) -> list[Any]:
        with self._store._lock:
            return [op() for op in self._ops]


def _redis_url_check(value: str) -> str | None:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        return f"must start with redis://, rediss:// or unix://, got {value!r}"
    return None


def _prefix_check(value: str) -> str | None:
    if not value or not all(c.isalnum() or c in "-_." for c in value):
        return f"must be letters, digits, '-', '_' or '.', got {value!r}"
    return None
