"""The server's drift monitor: every `drift.monitor_seconds`, the last `drift.monitor_days` of the call log
judged (no words, no HTML: counts only), Prometheus gauges set per domain, and each new alert said once
as a log line and, when `drift.webhook_url` is set, POSTed as JSON (the HTTP client is injectable).

The reference is the serving version's `drift_reference.json` (written by `callbot train`); a version
without one is reported once and not judged (building it would load every model again in the server).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Gauge

from drift import DriftError
from drift.reference import FILE_NAME, Reference
from drift.report import DriftReport, make_report
from drift.settings import DriftSettings

logger = logging.getLogger(__name__)

Post = Callable[[str, dict[str, Any]], Any]  # (url, JSON body) -> anything; raises on failure


class DriftGauges:
    """Per-domain drift gauges on a replica's registry (`telephony.metrics.Metrics.registry`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, doc: str, labels: tuple[str, ...] = ("domain",)) -> Gauge:
            return Gauge(name, doc, list(labels), registry=registry)

        self.psi = gauge(
            "callbot_drift_intent_psi", "PSI of the BBSE-corrected intent mix vs the test split."
        )
        self.out_of_scope = gauge(
            "callbot_drift_out_of_scope_share", "Share of turns refused or not understood."
        )
        self.confidence_ks = gauge(
            "callbot_drift_confidence_ks", "KS distance of top-1 confidences vs baseline."
        )
        self.recognizer_cer = gauge(
            "callbot_drift_recognizer_cer", "Mean CER between Vosk's and Whisper's text."
        )
        self.alert = gauge(
            "callbot_drift_alert", "1 while the latest window of a signal alerts.", ("domain", "signal")
        )
        self.checked = Gauge(
            "callbot_drift_checked_timestamp", "When drift was last judged (epoch).", registry=registry
        )

    def update(self, report: DriftReport) -> None:
        for f in report.latest():
            if f.level == "none":
                continue
            target = {
                "intent_mix": self.psi,
                "out_of_scope": self.out_of_scope,
                "confidence": self.confidence_ks,
                "recognition": self.recognizer_cer,
            }.get(f.signal)
            if target is not None:
                target.labels(domain=f.scope).set(f.value)
            self.alert.labels(domain=f.scope, signal=f.signal).set(1.0 if f.level == "alert" else 0.0)
        self.checked.set(time.time())


def http_post(url: str, body: dict[str, Any]) -> Any:
    import httpx

    response = httpx.post(url, json=body, timeout=5.0)
    response.raise_for_status()
    return response


class DriftMonitor:
    """Judge the recent call log now and then; gauges, alert log lines, webhook."""

    def __init__(
        self,
        settings: DriftSettings,
        engine: sa.engine.Engine,
        models_dir: Path,
        version: Callable[[], str],
        gauges: DriftGauges,
        post: Post | None = None,
        is_oos: Callable[[str], bool] = lambda intent: intent.endswith("out_of_scope"),
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.models_dir = models_dir
        self.version = version
        self.gauges = gauges
        self.post = post or http_post
        self.is_oos = is_oos
        self._reference: Reference | None = None
        self._missing: set[str] = set()
        self._said: set[tuple[str, str, int]] = set()

    def reference(self) -> Reference | None:
        version = self.version()
        if self._reference is not None and self._reference.version == version:
            return self._reference
        path = self.models_dir / version / FILE_NAME
        try:
            self._reference = Reference.load(path)
        except DriftError as exc:
            if version not in self._missing:
                self._missing.add(version)
                logger.warning("drift.monitor.no_reference version=%s (%s)", version, exc)
            return None
        return self._reference

    def check(self, now: float | None = None) -> DriftReport | None:
        """One judgement: gauges set, new alerts logged and posted; the report (None: no reference)."""
        reference = self.reference()
        if reference is None:
            return None
        report = make_report(
            self.engine, reference, self.settings, self.settings.monitor_days, now=now, is_oos=self.is_oos
        )
        self.gauges.update(report)
        for f in report.latest():
            key = (f.scope, f.signal, f.day)
            if f.level != "alert" or key in self._said:
                continue
            self._said.add(key)
            logger.warning(
                "drift.alert domain=%s signal=%s day=%s value=%s limit=%s n=%s basis=%s version=%s",
                f.scope, f.signal, f.to_json()["date"], f.value, f.limit, f.n, f.basis, report.version,
            )  # fmt: skip
            if self.settings.webhook_url:
                body = {"event": "callbot.drift.alert", "version": report.version, **f.to_json()}
                try:
                    self.post(self.settings.webhook_url, body)
                except Exception as exc:  # noqa: BLE001 - a webhook down must not stop the monitor
                    logger.warning("drift.webhook.failed url=%s error=%s", self.settings.webhook_url, exc)
        return report

    async def run(self) -> None:
        """Check every `monitor_seconds` on a thread (the queries block) until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.check)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one failed check (database down) waits for the next
                logger.exception("drift.monitor.failed")
            await asyncio.sleep(self.settings.monitor_seconds)
