"""The link to Redis: fail fast while it is down, notice when it is back; the in-process store."""

from __future__ import annotations

import threading
import time

import pytest

from callbot.config import Config, ConfigError
from callbot.state import MemoryStore, RedisLink, StateSettings, StateUnavailable, read_state_settings


def _link(url: str, **kw: float) -> RedisLink:
    return RedisLink(StateSettings(redis_url=url, timeout_seconds=0.3, retry_seconds=0.1, **kw))


def test_stopped_redis_fails_fast_and_recovery_is_announced(private_redis) -> None:  # noqa: ANN001
    link = _link(private_redis.url)
    recovered = threading.Event()
    link.on_recovered(recovered.set)
    try:
        assert link.run(lambda r: r.set(link.key("k"), "v")) and link.up
        private_redis.stop()
        with pytest.raises(StateUnavailable):
            link.run(lambda r: r.get(link.key("k")))
        assert not link.up and link.error
        started = time.monotonic()
        with pytest.raises(StateUnavailable):  # known down: no connection attempt at all
            link.run(lambda r: r.get(link.key("k")))
        assert time.monotonic() - started < 0.05
        private_redis.start()
        assert recovered.wait(5) and link.up
        assert link.run(lambda r: r.set(link.key("k"), "w"))
    finally:
        link.close()


def test_paused_redis_times_out_instead_of_hanging(private_redis) -> None:  # noqa: ANN001
    link = _link(private_redis.url)
    try:
        link.run(lambda r: r.ping())
        private_redis.pause()
        started = time.monotonic()
        with pytest.raises(StateUnavailable):
            link.run(lambda r: r.get("x"))
        assert time.monotonic() - started < 2.0
        assert link.ping()  # readiness reports why
        private_redis.resume()
        deadline = time.monotonic() + 5
        while not link.up and time.monotonic() < deadline:
            time.sleep(0.05)
        assert link.up
    finally:
        private_redis.resume()
        link.close()


def test_memory_store_expiry_nx_and_transactions() -> None:
    now = [100.0]
    store = MemoryStore(clock=lambda: now[0])
    assert store.set("a", "1", ex=10) and store.get("a") == b"1"
    assert not store.set("a", "2", nx=True) and store.get("a") == b"1"
    now[0] += 11
    assert store.get("a") is None and store.set("a", "3", nx=True)
    pipe = store.pipeline()
    pipe.set("b", b"x")
    pipe.delete("a")
    pipe.execute()
    assert (store.get("a"), store.get("b")) == (None, b"x")
    link = RedisLink.memory()
    assert not link.shared and link.up and link.run(lambda r: r.get("nothing")) is None


def test_state_section_reports_every_bad_key(tmp_path) -> None:  # noqa: ANN001
    assert read_state_settings(Config(path=tmp_path / "c.yml", raw={})) == StateSettings()
    bad = {"state": {"redis_url": "localhost:6379", "key_prefix": "a b", "timeout_seconds": 0, "bogus": 1}}
    with pytest.raises(ConfigError) as err:
        read_state_settings(Config(path=tmp_path / "c.yml", raw=bad))
    for key in ("state.redis_url", "state.key_prefix", "state.timeout_seconds", "state.bogus"):
        assert key in str(err.value)
