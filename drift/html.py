"""The drift report as one HTML page with inline SVG line charts (no scripts, no build step)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from drift.monitor import SIGNALS, Finding, date_of

if TYPE_CHECKING:
    from drift.report import DriftReport

COLORS = {"ok": "#2e7d32", "warn": "#f9a825", "alert": "#c62828", "none": "#9e9e9e"}
WIDTH, HEIGHT, PAD = 520, 140, 28


def _chart(findings: list[Finding], title: str) -> str:
    """A line of the statistic per window, its limit dashed, each point coloured by its level."""
    points = [f for f in findings if f.level != "none"]
    if not points:
        return f"<div class='chart'><b>{escape(title)}</b><p>no verdict yet</p></div>"
    top = max([f.value for f in points] + [f.limit or 0 for f in points]) or 1.0
    first, last = points[0].day, points[-1].day

    def x(day: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * ((day - first) / max(last - first, 1))

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v / top)

    line = " ".join(f"{x(f.day):.1f},{y(f.value):.1f}" for f in points)
    limit = " ".join(f"{x(f.day):.1f},{y(f.limit):.1f}" for f in points if f.limit is not None)
    dots = "".join(
        f"<circle cx='{x(f.day):.1f}' cy='{y(f.value):.1f}' r='3' fill='{COLORS[f.level]}'>"
        f"<title>{date_of(f.day)}: {f.value} ({f.level}, n={f.n})</title></circle>"
        for f in points
    )
    return (
        f"<div class='chart'><b>{escape(title)}</b><svg width='{WIDTH}' height='{HEIGHT}' "
        f"xmlns='http://www.w3.org/2000/svg'>"
        f"<line x1='{PAD}' y1='{HEIGHT - PAD}' x2='{WIDTH - PAD}' y2='{HEIGHT - PAD}' stroke='#ccc'/>"
        f"<polyline points='{line}' fill='none' stroke='#1565c0'/>"
        + (
            f"<polyline points='{limit}' fill='none' stroke='#c62828' stroke-dasharray='4 3'/>"
            if limit
            else ""
        )
        + dots
        + f"<text x='{PAD}' y='{HEIGHT - 6}' font-size='10'>{date_of(first)}</text>"
        f"<text x='{WIDTH - PAD - 60}' y='{HEIGHT - 6}' font-size='10'>{date_of(last)}</text>"
        f"<text x='2' y='{PAD - 8}' font-size='10'>{top:.3g}</text></svg></div>"
    )


def render(report: DriftReport) -> str:
    scopes = sorted({f.scope for f in report.findings}, key=lambda s: (s != "all", s))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>callbot drift {escape(report.version)}</title><style>",
        "body{font-family:sans-serif;margin:1.5em} .chart{display:inline-block;margin:.5em}",
        "table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:2px 6px;font-size:13px}",
        ".alert{background:#ffebee} .warn{background:#fff8e1}</style></head><body>",
        f"<h1>Drift: models {escape(report.version)}</h1>",
        f"<p>{date_of(report.first_day)} to {date_of(report.last_day)}; overall level "
        f"<b style='color:{COLORS[report.level]}'>{report.level}</b>; {len(report.alerts)} alert(s).</p>",
    ]
    if report.alerts:
        parts.append("<h2>Alerts</h2><table><tr><th>date</th><th>scope</th><th>signal</th><th>value</th>"
                     "<th>limit</th><th>n</th><th>basis</th></tr>")  # fmt: skip
        for f in report.alerts:
            parts.append(
                f"<tr class='alert'><td>{date_of(f.day)}</td><td>{escape(f.scope)}</td><td>{f.signal}</td>"
                f"<td>{f.value}</td><td>{f.limit}</td><td>{f.n}</td><td>{f.basis}</td></tr>"
            )
        parts.append("</table>")
    for w in report.words:
        parts.append(
            f"<h3>Words behind the drift: {escape(w.scope)}, {date_of(w.day)} ({w.refused} refused)</h3>"
        )
        parts.append("<table><tr><th>new word</th><th>turns</th><th>examples</th></tr>")
        for nw in w.words:
            parts.append(
                f"<tr><td>{escape(nw.word)}</td><td>{nw.count}</td><td>{escape(', '.join(nw.turns))}</td></tr>"
            )
        parts.append("</table><table><tr><th>cluster</th><th>turns</th></tr>")
        for c in w.clusters:
            parts.append(f"<tr><td>{escape(c.text)}</td><td>{c.count}</td></tr>")
        parts.append("</table>")
    for scope in scopes:
        parts.append(f"<h2>{escape(scope)}</h2>")
        for signal in SIGNALS:
            series = [f for f in report.findings if f.scope == scope and f.signal == signal]
            parts.append(_chart(series, signal))
    parts.append("</body></html>")
    return "\n".join(parts)
