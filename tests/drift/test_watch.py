"""The server's drift monitor: gauges on the replica's /metrics registry, one alert log line and one
webhook call per new alert (an injected HTTP client), a version without a reference skipped."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from callbot.database import create_engine, ensure_schema
from drift.settings import DriftSettings
from drift.watch import DriftGauges, DriftMonitor
from telephony.calllog import metadata
from telephony.metrics import Metrics
from tests.drift.test_report import DAY, NOW, reference, write_days


@pytest.fixture
def engine(tmp_path: Path) -> sa.engine.Engine:
    e = create_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    ensure_schema(e, metadata, "calllog")
    return e


def _monitor(engine, models: Path, posts: list, version: str = "v-test", **settings) -> tuple:  # noqa: ANN001
    metrics = Metrics("r1")
    s = DriftSettings(min_history=7, monitor_days=30, webhook_url="http://hooks.test/drift", **settings)
    monitor = DriftMonitor(
        s,
        engine,
        models,
        lambda: version,
        DriftGauges(metrics.registry),
        post=lambda u, b: posts.append((u, b)),
    )
    return monitor, metrics


def test_an_alert_sets_gauges_logs_once_and_calls_the_webhook_once(
    engine: sa.engine.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "models" / "v-test").mkdir(parents=True)
    reference().save(tmp_path / "models" / "v-test" / "drift_reference.json")

    def triple(day: int, rng: random.Random) -> dict | None:
        if day >= 28 and rng.random() < 0.4:
            return {"intent": "menu_discount", "router_domain": "menu", "outcome": "accepted",
                    "intent_confidence": rng.uniform(0.6, 1.0)}  # fmt: skip
        return None

    write_days(engine, 30, 400, triple)
    posts: list = []
    monitor, metrics = _monitor(engine, tmp_path / "models", posts)
    with caplog.at_level(logging.WARNING, logger="drift.watch"):
        assert monitor.check(now=NOW) is not None
        monitor.check(now=NOW)  # the same alert again: said once
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("drift.alert")]
    assert any("domain=menu signal=intent_mix" in line for line in lines)
    assert len(lines) == len(set(lines)) == len(posts)
    url, body = next(p for p in posts if p[1]["scope"] == "menu")
    assert url == "http://hooks.test/drift" and body["signal"] == "intent_mix" and body["level"] == "alert"
    page = metrics.render().decode()
    assert 'callbot_drift_alert{domain="menu",signal="intent_mix"} 1.0' in page
    assert 'callbot_drift_alert{domain="store",signal="intent_mix"} 0.0' in page
    psi = next(
        line for line in page.splitlines() if line.startswith('callbot_drift_intent_psi{domain="menu"}')
    )
    assert float(psi.split()[-1]) > 0.05
    assert "callbot_drift_recognizer_cer" in page and "callbot_drift_out_of_scope_share" in page


def test_a_stable_log_sets_gauges_without_alerts(engine: sa.engine.Engine, tmp_path: Path) -> None:
    (tmp_path / "models" / "v-test").mkdir(parents=True)
    reference().save(tmp_path / "models" / "v-test" / "drift_reference.json")
    write_days(engine, 30, 400)
    posts: list = []
    monitor, metrics = _monitor(engine, tmp_path / "models", posts)
    report = monitor.check(now=NOW)
    assert report is not None and report.alerts == [] and posts == []
    assert 'callbot_drift_alert{domain="all",signal="out_of_scope"} 0.0' in metrics.render().decode()


def test_a_version_without_reference_is_reported_once_and_skipped(
    engine: sa.engine.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    posts: list = []
    monitor, _ = _monitor(engine, tmp_path / "models", posts, version="v-none")
    with caplog.at_level(logging.WARNING, logger="drift.watch"):
        assert monitor.check(now=NOW) is None
        assert monitor.check(now=NOW) is None
    assert sum("drift.monitor.no_reference" in r.getMessage() for r in caplog.records) == 1


def test_a_failing_webhook_does_not_stop_the_monitor(engine: sa.engine.Engine, tmp_path: Path) -> None:
    (tmp_path / "models" / "v-test").mkdir(parents=True)
    reference().save(tmp_path / "models" / "v-test" / "drift_reference.json")
    write_days(engine, 30, 400, lambda d, rng: {"intent": "menu_discount", "router_domain": "menu",
               "outcome": "accepted", "intent_confidence": 0.9} if d >= 29 and rng.random() < 0.5 else None)  # fmt: skip

    def down(url: str, body: dict) -> None:
        raise ConnectionError("no route")

    metrics = Metrics("r1")
    monitor = DriftMonitor(
        DriftSettings(min_history=7, monitor_days=30, webhook_url="http://hooks.test/x"),
        engine, tmp_path / "models", lambda: "v-test", DriftGauges(metrics.registry), post=down,
    )  # fmt: skip
    report = monitor.check(now=NOW)
    assert report is not None and report.alerts
    assert int(NOW // DAY) in {f.day for f in report.alerts}
