"""The console's drift page and banner: the latest drift report (drift.report) of the call log against the
serving model version, computed off the event loop and kept for a few minutes.

The page computes the report when the kept one is older than `ttl`; every other page only reads the kept
one for its banner (no report kept yet: no banner), so pages stay fast.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from drift.html import chart
from drift.monitor import SIGNALS, Finding, date_of
from drift.report import DriftReport

logger = logging.getLogger(__name__)
Builder = Callable[[], DriftReport]


@dataclass(frozen=True)
class Banner:
    scope: str
    signal: str
    date: str
    more: int  # further alerting scopes and signals


class DriftCache:
    """One drift report at a time, built by `build` in a thread when older than `ttl` seconds."""

    def __init__(self, build: Builder | None, ttl: float = 300.0, clock: Callable[[], float] = time.time):
        self.build, self.ttl, self.clock = build, ttl, clock
        # Another report the banner may read when none is kept here: `callbot serve` passes its drift
        # monitor's latest (drift.watch), so the banner shows without anyone opening the page.
        self.fallback: Callable[[], DriftReport | None] = lambda: None
        self.report: DriftReport | None = None
        self.error: str = ""
        self.at: float = 0.0
        self._lock = asyncio.Lock()

    def put(self, report: DriftReport) -> None:
        self.report, self.error, self.at = report, "", self.clock()

    async def get(self) -> DriftReport | None:
        """The kept report, built again (off the event loop) when older than the ttl."""
        async with self._lock:
            if self.build is not None and (self.report is None or self.clock() - self.at >= self.ttl):
                try:
                    self.put(await asyncio.to_thread(self.build))
                except Exception as exc:  # noqa: BLE001 - shown on the page; the console keeps serving
                    logger.error("console.drift.failed error=%s", exc)
                    self.error, self.at = f"{type(exc).__name__}: {exc}", self.clock()
            return self.report

    def banner(self) -> Banner | None:
        """The kept report's latest alert, else the fallback's (never builds a report)."""
        report = self.report if self.report is not None else self.fallback()
        if report is None:
            return None
        alerts = [f for f in report.latest() if f.level == "alert"]
        if not alerts:
            return None
        top = max(alerts, key=lambda f: (f.day, f.scope == "all"))
        return Banner(top.scope, top.signal, date_of(top.day), len(alerts) - 1)


def default_builder(config_path: Any, days: int | None = None) -> Builder | None:
    """The report of models/current over the configured call log (what `callbot drift report` prints)."""
    if config_path is None:
        return None

    def build() -> DriftReport:
        from callbot.config import load_config
        from drift.report import report_for_config
        from drift.settings import DriftSettings

        config = load_config(config_path if Path(config_path).is_file() else None)
        window = days or DriftSettings.from_config(config).monitor_days
        return report_for_config(config, window, make_reference=False)

    return build


def domain_tables(report: DriftReport) -> list[dict[str, Any]]:
    """Per scope (`all` first): each signal's latest judged window and the chart of its windows."""
    latest = {(f.scope, f.signal): f for f in report.latest()}
    scopes = sorted({f.scope for f in report.findings}, key=lambda s: (s != "all", s))
    out = []
    for scope in scopes:
        rows = []
        for signal in SIGNALS:
            f = latest.get((scope, signal))
            series = [x for x in report.findings if x.scope == scope and x.signal == signal]
            rows.append({"signal": signal, "finding": f, "chart": chart(series, signal)})
        out.append({"scope": scope, "rows": rows, "level": max_level(r["finding"] for r in rows)})
    return out


def max_level(findings: Any) -> str:
    order = {"none": 0, "ok": 1, "warn": 2, "alert": 3}
    levels = [f.level for f in findings if isinstance(f, Finding)]
    return max(levels, key=order.__getitem__) if levels else "none"


def inbox_query(scope: str, first_day: int, days: int, word: str = "") -> str:
    """The inbox filter of a window's refused turns (with `word`: those whose text contains it)."""
    params = {
        "date_from": date_of(first_day),
        "date_to": date_of(first_day + days - 1),
        "outcome": "refused",
        "status": "all",
    }
    if scope != "all":
        params["domain"] = scope
    if word:
        params["text"] = word
    return urlencode(params)


def split_turn(ref: str) -> tuple[str, str]:
    """`<call SID>#<turn>` as (SID, turn)."""
    sid, _, turn = ref.partition("#")
    return sid, turn


def drift_routes(cache: DriftCache, render: Callable[..., Response], guarded: Callable) -> list[Route]:
    async def page(request: Request, user: Any, form: dict[str, str]) -> Response:
        report = await cache.get()
        return render(
            request,
            "drift.html",
            user=user,
            csrf=request.state.csrf,
            report=report,
            error=cache.error,
            computed=cache.at,
            ttl=cache.ttl,
            tables=domain_tables(report) if report else [],
            inbox_query=inbox_query,
            split_turn=split_turn,
            date_of=date_of,
        )

    return [Route("/drift", guarded(page), methods=["GET"])]
