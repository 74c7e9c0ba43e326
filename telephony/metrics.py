"""Prometheus metrics of one replica (`GET /metrics`), on a registry of its own (no global state).

Scrape every replica directly (not through the load balancer): each reports its own calls. The
`callbot_replica_info` series names the replica and the bot version it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Per-stage latency buckets (seconds): a turn's stages run from a few ms (tts from cache) to seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0, 1.5, 2.5, 5.0, 10.0)
# Turn-record fields (ms) exported as the `stage` label of callbot_turn_stage_seconds.
STAGES = ("final_ms", "decode_wait_ms", "stt_ms", "nlu_ms", "reply_ms", "tts_ms", "first_audio_ms")


class Metrics:
    """The counters, gauges and histograms the telephony layer updates."""

    def __init__(self, replica: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.info = Gauge(
            "callbot_replica_info",
            "This replica and the bot version it serves.",
            ["replica", "version"],
            registry=r,
        )
        self.live_calls = Gauge("callbot_live_calls", "Calls with a stream on this replica now.", registry=r)
        self.calls = Counter(
            "callbot_calls_total",
            "Call streams by outcome: started, resumed (moved here), ended, moved (left without ending).",
            ["outcome"],
            registry=r,
        )
        self.turns = Counter(
            "callbot_turns_total", "Turns logged, by kind (speech, dtmf, silence, ...).", ["kind"], registry=r
        )
        self.stage = Histogram(
            "callbot_turn_stage_seconds",
            "Per-stage latency of turns (final, decode_wait, stt, nlu, reply, tts, first_audio).",
            ["stage"],
            buckets=BUCKETS,
            registry=r,
        )
        self.stt_fallbacks = Counter(
            "callbot_stt_fallbacks_total",
            "Speech recognition fallbacks: busy (no recognizer slot: the busy line), second_pass, ...",
            ["kind"],
            registry=r,
        )
        self.errors = Counter(
            "callbot_errors_total",
            "Errors by kind: token, protocol, stream, call, control, redis, database.",
            ["kind"],
            registry=r,
        )
        self.dependency_up = Gauge(
            "callbot_dependency_up",
            "1 when a shared service answers (redis, database).",
            ["dependency"],
            registry=r,
        )
        self.calllog_pending = Gauge(
            "callbot_calllog_pending_writes",
            "Call-log writes not yet in the database (buffered).",
            registry=r,
        )
        self.draining = Gauge("callbot_draining", "1 while this replica drains (SIGTERM).", registry=r)
        self.replica = replica
        self._version = ""
        self._version_of: Callable[[], str] = lambda: ""

    def bind(
        self, live_calls: Callable[[], int], pending: Callable[[], int], version: Callable[[], str]
    ) -> None:
        """Gauges read at scrape time."""
        self.live_calls.set_function(lambda: float(live_calls()))
        self.calllog_pending.set_function(lambda: float(pending()))
        self._version_of = version

    def turn(self, record: Any) -> None:
        """Count a logged turn and observe its stage timings (a `TurnRecord`)."""
        self.turns.labels(kind=record.kind).inc()
        for name in STAGES:
            value = getattr(record, name, None)
            if value is not None and value >= 0:
                self.stage.labels(stage=name.removesuffix("_ms")).observe(value / 1000.0)

    def render(self) -> bytes:
        version = self._version_of()
        if version != self._version:
            if self._version:
                self.info.remove(self.replica, self._version)
            self._version = version
        self.info.labels(replica=self.replica, version=version).set(1)
        return generate_latest(self.registry)
