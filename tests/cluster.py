"""Replicas of `callbot serve` as real processes behind the repository's HAProxy config, on loopback.

Used by the cluster tests (tests/telephony/test_telephony_cluster.py: tiny models, a tone recognizer)
and by benchmarks/calls_cluster.py (the sample's models, Vosk). Each replica is a subprocess that can
be killed (-9), drained (SIGTERM) and started again; HAProxy runs `deploy/haproxy/haproxy.cfg` with the
replica addresses in its environment, checking /readyz every 0.5 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Replica:
    name: str
    port: int
    command: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Cluster:
    """`replicas` processes from `command(port)`, and HAProxy in front (see module doc)."""

    def __init__(
        self,
        folder: Path,
        command: Callable[[int], list[str]],
        env: dict[str, str],
        replicas: int = 2,
        same_backend: bool = False,
    ) -> None:
        if shutil.which("haproxy") is None:
            raise RuntimeError(
                "haproxy is not installed (make install-cluster-deps, or apt-get install haproxy)"
            )
        self.folder = folder
        self.env = {**os.environ, **env}
        self.replicas = {
            name: Replica(name, port, command(port), folder / f"replica-{name}.log")
            for name, port in ((chr(ord("a") + i), free_port()) for i in range(replicas))
        }
        self.lb_port = free_port()
        self.same_backend = same_backend
        self.haproxy: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def start(self, timeout: float = 600.0) -> Cluster:
        for replica in self.replicas.values():
            self._spawn(replica)
        for name in self.replicas:
            self.wait_ready(name, timeout)
        self._start_haproxy()
        return self

    def stop(self) -> None:
        for replica in self.replicas.values():
            self.kill(replica.name)
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(10)

    # -- one replica ---------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """kill -9: no drain, no cleanup, as a crash or a lost machine."""
        proc = self.replicas[name].proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(30)

    def terminate(self, name: str) -> None:
        """SIGTERM: the replica drains, then exits."""
        proc = self.replicas[name].proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    def wait_exit(self, name: str, timeout: float = 120.0) -> int:
        proc = self.replicas[name].proc
        assert proc is not None
        return proc.wait(timeout)

    def restart(self, name: str, timeout: float = 600.0) -> None:
        self.kill(name)
        self._spawn(self.replicas[name])
        self.wait_ready(name, timeout)
        self.wait_balancer(name)

    def wait_ready(self, name: str, timeout: float = 600.0) -> None:
        replica = self.replicas[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if replica.proc is not None and replica.proc.poll() is not None:
                raise RuntimeError(f"replica {name} exited: {self.tail(name)}")
            try:
                if httpx.get(replica.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"replica {name} not ready in {timeout:.0f} s: {self.tail(name)}")

    def wait_balancer(self, name: str, timeout: float = 10.0) -> None:
        """Until HAProxy's health check has seen the replica up again (rise 2 x 0.5 s)."""
        time.sleep(1.5)

    def live_calls(self) -> dict[str, int]:
        """Replica -> calls it serves now (replicas that do not answer are left out)."""
        out = {}
        for name, replica in self.replicas.items():
            try:
                out[name] = httpx.get(replica.url + "/healthz", timeout=2).json()["live_calls"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue
        return out

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.replicas[name].log_path
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # -- processes -----------------------------------------------------------------------------

    def _spawn(self, replica: Replica) -> None:
        if replica._log is not None:
            replica._log.close()
        replica._log = replica.log_path.open("ab")
        replica.proc = subprocess.Popen(
            replica.command, cwd=ROOT, env=self.env, stdout=replica._log, stderr=subprocess.STDOUT
        )

    def _start_haproxy(self) -> None:
        a, *rest = self.replicas.values()
        b = a if self.same_backend or not rest else rest[0]
        env = {
            **os.environ,
            "CALLBOT_LB_BIND": f"127.0.0.1:{self.lb_port}",
            "CALLBOT_REPLICA_A": f"127.0.0.1:{a.port}",
            "CALLBOT_REPLICA_B": f"127.0.0.1:{b.port}",
            "CALLBOT_LB_CHECK_INTERVAL": "500ms",
        }
        log = (self.folder / "haproxy.log").open("ab")
        self.haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(HAPROXY_CONFIG)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    time.sleep(1.0)  # both backends' checks have passed (rise 2)
                    return
            except httpx.HTTPError:
                pass
            if self.haproxy.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"haproxy did not come up: {(self.folder / 'haproxy.log').read_text()[-2000:]}")
