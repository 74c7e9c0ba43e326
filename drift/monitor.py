"""Judging windows of live counts against the reference (or the stable history): the findings.

A scope (a routed domain, or `all`) is judged by the day when it averages `min_daily_turns` a day,
else by the week. Each window gets one `Finding` per signal:

- `intent_mix`: PSI between the test split's intent mix and the live mix estimated by BBSE, plus a
  chi-square test of the live predicted counts; both must exceed their limits.
- `out_of_scope`: the share of turns refused / not understood / asked about (p-chart).
- `declined`: the share of confirmation questions the caller said no to (p-chart; needs history).
- `confidence`: top-1 confidence histogram against the reference's (two-sample KS).
- `recognition`: Vosk/Whisper CER rise, empty turns and second-pass fallbacks (needs history).

Thresholds: until a scope has `min_history` days of stable windows, the test split is the baseline (PSI limits
are the larger of the defaults and the statistic's bootstrapped quantile on windows drawn from the test
split); after that the pooled stable windows before the one judged are the baseline and the PSI limits
are bootstrapped from them alone. The first `min_history` days of windows are the burn-in and join the baseline
whatever their verdict; after that a window with an alert is not stable and joins no later baseline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from drift.aggregate import Counts
from drift.reference import ALL, OOS, Reference, Scope
from drift.settings import DriftSettings
from drift.stats import bbse, bbse_psi_quantiles, chi_square, ks_binned, p_chart, psi

SIGNALS = ("intent_mix", "out_of_scope", "declined", "confidence", "recognition")
LEVELS = ("none", "ok", "warn", "alert")  # none: too few turns or no baseline for a verdict


@dataclass(frozen=True)
class Finding:
    scope: str
    day: int  # first day of the window (days since 1970-01-01, local)
    days: int  # 1 or 7
    signal: str
    level: str
    value: float
    limit: float | None
    n: int
    basis: str  # reference | history | defaults
    p: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["date"] = date_of(self.day)
        return out


def date_of(day: int) -> str:
    import datetime as dt

    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


@dataclass
class Baseline:
    """The pooled counts of a scope's stable windows so far."""

    windows: int = 0
    days: int = 0  # the days those windows cover (a weekly window counts 7)
    counts: Counts = field(default_factory=Counts)
    cer_means: list[float] = field(default_factory=list)  # each stable window's mean CER


def windows_of(days: dict[int, Counts], first: int, last: int, weekly: bool) -> list[tuple[int, int, Counts]]:
    """(first day, length, summed counts) of each window from `first` to `last` (inclusive)."""
    size = 7 if weekly else 1
    out = []
    for start in range(first, last + 1, size):
        c = Counts()
        for d in range(start, min(start + size, last + 1)):
            if d in days:
                c.add(days[d])
        out.append((start, min(size, last + 1 - start), c))
    return out


def judge(
    reference: Reference,
    counts: dict[tuple[str, int], Counts],
    first: int,
    last: int,
    settings: DriftSettings,
) -> list[Finding]:
    """Findings for every scope, window and signal between local days `first` and `last`."""
    scopes = sorted({s for s, _ in counts} | {ALL}, key=lambda s: (s != ALL, s))
    findings: list[Finding] = []
    span = last - first + 1
    for scope in scopes:
        days = {d: c for (s, d), c in counts.items() if s == scope}
        total = sum(c.n for c in days.values())
        weekly = total / max(span, 1) < settings.min_daily_turns
        ref = reference.scope(scope)
        baseline = Baseline()
        for start, length, c in windows_of(days, first, last, weekly):
            found = judge_window(scope, start, length, c, ref, baseline, settings)
            findings.extend(found)
            # the first windows (judged against the test split) are the burn-in: they become the history
            # whatever their verdict; later, a window with an alert stays out of the baseline
            burn_in = baseline.days < settings.min_history
            if c.n >= settings.min_window_turns and (burn_in or not any(f.level == "alert" for f in found)):
                baseline.windows += 1
                baseline.days += length
                baseline.counts.add(c)
                if c.cers:
                    baseline.cer_means.append(float(np.mean(c.cers)))
    return findings


def judge_window(
    scope: str, start: int, length: int, c: Counts, ref: Scope, base: Baseline, s: DriftSettings
) -> list[Finding]:
    history = base.days >= s.min_history
    common = {"scope": scope, "day": start, "days": length}
    if c.n < s.min_window_turns:
        out = [
            Finding(**common, signal=k, level="none", value=0.0, limit=None, n=c.n, basis="-")
            for k in SIGNALS[:4]
        ]
    else:
        out = [
            _intent_mix(common, c, ref, base, history, s),
            _out_of_scope(common, c, ref, base, history, s),
            _declined(common, c, base, history, s),
            _confidence(common, c, ref, base, history, s),
        ]
    out.append(_recognition(common, c, base, history, s))
    return out


def _mix_counts(c: Counts, ref: Scope) -> np.ndarray:
    v = np.zeros(len(ref.labels))
    for label, n in c.labels.items():
        v[ref.index(label)] += n
    return v


def _intent_mix(
    common: dict, c: Counts, ref: Scope, base: Baseline, history: bool, s: DriftSettings
) -> Finding:
    counts = _mix_counts(c, ref)
    p = ref.true_shares

    est = bbse(ref.joint, counts)
    value = psi(p, est.q)
    n = int(counts.sum())
    levels = (s.quantile, 1 - 5 * (1 - s.quantile))
    if history:
        pooled = _mix_counts(base.counts, ref)
        expected = pooled / pooled.sum()
        alert, warn = bbse_psi_quantiles(ref.joint, expected, n, levels, s.bootstrap_rounds)
        basis = "history"
    else:
        expected = ref.predicted_shares
        alert, warn = bbse_psi_quantiles(ref.joint, expected, n, levels, s.bootstrap_rounds)
        alert, warn = max(s.psi_alert, alert), max(s.psi_warn, warn)
        basis = "reference"
    _, pval = chi_square(counts, expected)
    significant = pval < s.chi2_p
    level = "alert" if value > alert and significant else "warn" if value > warn and significant else "ok"
    moved = sorted(((est.q[i] - p[i], ref.labels[i]) for i in range(len(p))), key=lambda t: -abs(t[0]))[:3]
    detail = {
        "moved": [{"label": lab, "reference": round(float(p[ref.labels.index(lab)]), 4),
                   "live": round(float(est.q[ref.labels.index(lab)]), 4)} for _, lab in moved],
        "warn": round(warn, 4),
        "clipped": est.clipped,
    }  # fmt: skip
    return Finding(**common, signal="intent_mix", level=level, value=round(value, 4), limit=round(alert, 4),
                   n=n, basis=basis, p=pval, detail=detail)  # fmt: skip


def _chart(
    common: dict, signal: str, k: int, n: int, center: float, baseline_n: int, basis: str, s: DriftSettings
) -> Finding:
    chart = p_chart(k, n, center, s.sigmas, baseline_n)
    z = chart.z
    level = "alert" if chart.above else "warn" if z > s.sigmas - 1 else "ok"
    return Finding(**common, signal=signal, level=level, value=round(chart.share, 4),
                   limit=round(chart.upper, 4), n=n, basis=basis,
                   detail={"center": round(center, 4), "z": round(z, 2)})  # fmt: skip


def _out_of_scope(
    common: dict, c: Counts, ref: Scope, base: Baseline, history: bool, s: DriftSettings
) -> Finding:
    if history:
        center, size, basis = base.counts.oos / max(base.counts.n, 1), base.counts.n, "history"
    else:
        center, size, basis = ref.oos_share, ref.n, "reference"
    return _chart(common, "out_of_scope", c.oos, c.n, center, size, basis, s)


def _declined(common: dict, c: Counts, base: Baseline, history: bool, s: DriftSettings) -> Finding:
    if not history or base.counts.asked == 0 or c.asked < 10:
        return Finding(**common, signal="declined", level="none", value=c.declined / max(c.asked, 1),
                       limit=None, n=c.asked, basis="-")  # fmt: skip
    b = base.counts
    return _chart(common, "declined", c.declined, c.asked, b.declined / b.asked, b.asked, "history", s)


def _confidence(
    common: dict, c: Counts, ref: Scope, base: Baseline, history: bool, s: DriftSettings
) -> Finding:
    live = c.confidence if c.confidence is not None else np.zeros(s.confidence_bins)
    if history and base.counts.confidence is not None:
        against, basis = base.counts.confidence, "history"
    else:
        against, basis = ref.confidence_histogram(s.confidence_bins), "reference"
    d, pval = ks_binned(live, against)
    level = (
        "alert"
        if pval < s.ks_p and d >= s.ks_min
        else "warn"
        if pval < s.ks_p and d >= s.ks_min / 2
        else "ok"
    )
    mean = float(np.dot(live, (np.arange(len(live)) + 0.5) / len(live)) / max(live.sum(), 1))
    return Finding(**common, signal="confidence", level=level, value=round(d, 4), limit=s.ks_min,
                   n=int(live.sum()), basis=basis, p=pval, detail={"mean": round(mean, 4)})  # fmt: skip


def _recognition(common: dict, c: Counts, base: Baseline, history: bool, s: DriftSettings) -> Finding:
    mean_cer = float(np.mean(c.cers)) if c.cers else 0.0
    detail: dict[str, Any] = {
        "cer": round(mean_cer, 4),
        "cer_n": len(c.cers),
        "empty": round(c.empty / max(c.speech, 1), 4),
        "fallback": round(c.fallback / max(c.second, 1), 4),
    }
    if not history or c.speech < s.min_window_turns:
        return Finding(**common, signal="recognition", level="none", value=round(mean_cer, 4), limit=None,
                       n=c.speech, basis="-", detail=detail)  # fmt: skip
    b = base.counts
    levels = []
    if c.cers and b.cers:
        sd = float(np.std(b.cers)) or 1e-6
        base_mean = float(np.mean(b.cers))
        # the larger of the sampling error and the day-to-day spread of the stable windows' means
        spread = float(np.std(base.cer_means, ddof=1)) if len(base.cer_means) >= 3 else 0.0
        z = (mean_cer - base_mean) / max(sd / math.sqrt(len(c.cers)), spread)
        rise = mean_cer - base_mean
        detail.update(cer_baseline=round(base_mean, 4), cer_z=round(z, 2))
        levels.append("alert" if z > s.sigmas and rise >= s.cer_rise else
                      "warn" if z > s.sigmas - 1 and rise >= s.cer_rise / 2 else "ok")  # fmt: skip
    for name, k, n, bk, bn in (
        ("empty", c.empty, c.speech, b.empty, b.speech),
        ("fallback", c.fallback, c.second, b.fallback, b.second),
    ):
        if n >= s.min_window_turns and bn:
            chart = p_chart(k, n, bk / bn, s.sigmas, bn)
            detail[f"{name}_limit"] = round(chart.upper, 4)
            levels.append("alert" if chart.above else "ok")
    level = max(levels, key=LEVELS.index) if levels else "none"
    return Finding(**common, signal="recognition", level=level, value=round(mean_cer, 4), limit=None,
                   n=c.speech, basis="history", detail=detail)  # fmt: skip


def worst(findings: list[Finding]) -> str:
    return max((f.level for f in findings), key=LEVELS.index, default="none")


__all__ = ["Finding", "judge", "worst", "OOS", "SIGNALS"]
