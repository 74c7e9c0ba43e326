"""The real Redis and PostgreSQL for tests, isolated per test, and ways to take them away mid-test.

- `shared_redis_url()` / `shared_postgres_url()`: the machine's services (127.0.0.1:6379, :5432 with
  trust auth and a `test` database), as CI runs them. A test gets its own Redis key prefix and its own
  PostgreSQL schema (search_path), so parallel runs of other developers are never touched.
- `RedisServer`: a private `redis-server` on a free port that a test may stop, restart, pause (SIGSTOP)
  and resume, without disturbing the shared one.
- `TcpProxy`: a loopback TCP forwarder in front of a real service; `cut()` drops every connection and
  refuses new ones (the service is gone, as for a closed port), `restore()` brings it back; `pause()`
  keeps connections open but forwards nothing (a server that stopped answering), `resume()`.

A service that is not running is a skip with a reason locally, and a failure under `.ci/run`
(CALLBOT_TEST_SERVICES=required): CI must never skip these tests silently.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def unavailable(what: str) -> None:
    """Skip (locally) or fail (CI) a test whose service is missing."""
    message = f"{what} (start it: see .ci/run)"
    if os.environ.get("CALLBOT_TEST_SERVICES") == "required":
        pytest.fail(f"required service missing: {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis at {REDIS_URL} unreachable: {exc}")
    finally:
        client.close()
    return REDIS_URL


def delete_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    except (redis.RedisError, OSError):
        pass
    finally:
        client.close()


def new_prefix() -> str:
    return "callbot-test-" + secrets.token_hex(4)


class PostgresSchema:
    """A schema of its own in the shared `test` database; `url` points its search_path there."""

    def __init__(self, base: str = POSTGRES_URL, host_port: tuple[str, int] | None = None) -> None:
        import sqlalchemy as sa

        self.name = "callbot_t_" + secrets.token_hex(4)
        self.base = base
        engine = sa.create_engine(base, future=True, connect_args={"connect_timeout": 3})
        try:
            with engine.begin() as db:
                db.execute(sa.text(f"CREATE SCHEMA {self.name}"))
        except Exception as exc:  # noqa: BLE001 - reported as a missing service
            engine.dispose()
            unavailable(f"PostgreSQL at {base} unusable: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        self._engine = engine

    def url(self, host: str = "127.0.0.1", port: int = 5432) -> str:
        return f"postgresql://postgres@{host}:{port}/test?options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        import sqlalchemy as sa

        with self._engine.begin() as db:
            db.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.name} CASCADE"))
        self._engine.dispose()


class RedisServer:
    """A private redis-server (no persistence) on its own port, for tests that stop or pause Redis."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            unavailable("redis-server not installed")
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        cmd = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.proc = subprocess.Popen(
            [*cmd, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


class TcpProxy:
    """127.0.0.1:<port> -> target, one thread per direction; `cut()` and `restore()` (see module doc)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._cut = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self.restore()

    def pause(self) -> None:
        """Connections stay open but nothing goes through: a server that stopped answering (SIGSTOP)."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def restore(self) -> None:
        self._cut.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Every connection drops and the port refuses new ones."""
        self._cut.set()
        if self._listener is not None:
            try:  # wakes the thread blocked in accept(); close() alone leaves the port listening
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while not self._cut.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=3)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
