"""The `drift:` section of callbot.yml, validated (every key has a default)."""

from __future__ import annotations

from dataclasses import dataclass

from callbot.config import Config

KEYS = (
    "enabled",
    "utc_offset_hours",
    "min_daily_turns",
    "min_window_turns",
    "psi_warn",
    "psi_alert",
    "chi2_p",
    "ks_p",
    "ks_min",
    "sigmas",
    "quantile",
    "bootstrap_rounds",
    "min_history",
    "confidence_bins",
    "cer_sample",
    "cer_rise",
    "monitor_seconds",
    "monitor_days",
    "webhook_url",
)


@dataclass(frozen=True)
class DriftSettings:
    enabled: bool = True  # the server's periodic monitor (gauges, alert log line, webhook)
    utc_offset_hours: float = 9.0  # where a day starts (KST)
    min_daily_turns: int = 300  # a scope with fewer turns a day on average is judged by the week
    min_window_turns: int = 30  # a window with fewer turns gets no verdict
    psi_warn: float = 0.10  # intent mix PSI defaults until the history calibrates them
    psi_alert: float = 0.25
    chi2_p: float = 0.01  # ... and the predicted mix must also fail the chi-square test
    ks_p: float = 0.01  # top-1 confidence KS p-value ...
    ks_min: float = 0.10  # ... and at least this D (large windows make tiny gaps significant)
    sigmas: float = 3.0  # p-chart limits (out-of-scope share, declined confirmations, recognition)
    quantile: float = 0.99  # bootstrapped thresholds: this quantile of the statistic on stable windows
    bootstrap_rounds: int = 200
    min_history: int = 14  # days of stable windows before the history replaces the test split and defaults
    confidence_bins: int = 20
    cer_sample: int = 200  # turns per window and scope whose Vosk/Whisper CER is computed
    cer_rise: float = 0.05  # recognizer disagreement alerts when its mean CER rises this much (and 3 sigma)
    monitor_seconds: float = 900.0  # the server's monitor period
    monitor_days: int = 28  # ... and the days it looks back
    webhook_url: str = ""  # POSTed a JSON alert (optional)

    @classmethod
    def from_config(cls, config: Config) -> DriftSettings:
        r = config.reader("drift")
        d = cls()
        s = cls(
            enabled=r.bool("enabled", d.enabled),
            utc_offset_hours=r.float("utc_offset_hours", d.utc_offset_hours, min=-12, max=14),
            min_daily_turns=r.int("min_daily_turns", d.min_daily_turns, min=1),
            min_window_turns=r.int("min_window_turns", d.min_window_turns, min=1),
            psi_warn=r.float("psi_warn", d.psi_warn, min=0.0),
            psi_alert=r.float("psi_alert", d.psi_alert, min=0.0),
            chi2_p=r.float("chi2_p", d.chi2_p, min=0.0, max=1.0),
            ks_p=r.float("ks_p", d.ks_p, min=0.0, max=1.0),
            ks_min=r.float("ks_min", d.ks_min, min=0.0, max=1.0),
            sigmas=r.float("sigmas", d.sigmas, min=0.5),
            quantile=r.float("quantile", d.quantile, min=0.5, max=0.9999),
            bootstrap_rounds=r.int("bootstrap_rounds", d.bootstrap_rounds, min=20),
            min_history=r.int("min_history", d.min_history, min=2),
            confidence_bins=r.int("confidence_bins", d.confidence_bins, min=5, max=1000),
            cer_sample=r.int("cer_sample", d.cer_sample, min=0),
            cer_rise=r.float("cer_rise", d.cer_rise, min=0.0, max=1.0),
            monitor_seconds=r.float("monitor_seconds", d.monitor_seconds, min=10.0),
            monitor_days=r.int("monitor_days", d.monitor_days, min=1),
            webhook_url=r.str("webhook_url", d.webhook_url),
        )
        if s.psi_warn > s.psi_alert:
            r.error("psi_warn", f"must be <= psi_alert ({s.psi_alert}), got {s.psi_warn}")
        if s.webhook_url and not s.webhook_url.startswith(("http://", "https://")):
            r.error("webhook_url", f"must be an http(s) URL, got {s.webhook_url!r}")
        r.done(KEYS)
        return s
