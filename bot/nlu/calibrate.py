"""Choosing rejection thresholds on held-out data.

When the held-out split has enough rejection-class rows (chit-chat, other businesses), one router
threshold, one domain threshold and an out-of-scope confidence are chosen together on a grid to make the
fewest wrong turns in live traffic ("balanced"). A wrong turn is a business question lost to rejection or
an out-of-scope turn taken as business; they count alike, weighted by how common each kind of turn is
expected to be (`bot.out_of_scope_share`, the expected share of out-of-scope turns, not the held-out
split's own mix, which is whatever the data had). So the objective is
`in-scope accuracy - share / (1 - share) * out-of-scope acceptance`, and a threshold that loses more real
questions than it stops chit-chat is not taken. Per-domain thresholds are not fitted there: a domain's
few held-out rows would overfit them.

Without such rows (method "recall"), per layer, the threshold is the confidence below which only a small share (`1 - min_recall`) of the
correct in-scope answers fall: it keeps in-scope accuracy while rejecting what the models are unsure
of, which is where out-of-scope turns land. Domains with too few held-out answers share the pooled
threshold of all domains; with too few answers overall the configured defaults stay.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from bot.config import DEFAULT_OUT_OF_SCOPE_SHARE
from bot.nlu.decision import Thresholds, decide
from bot.nlu.parser import ParseResult

MIN_PER_DOMAIN = 15
MIN_ROWS = 30  # fewer correct held-out answers than this: a quantile means little, keep the defaults
MIN_OUT_OF_SCOPE = 20  # rejection-class rows needed for the balanced method
GRID = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
OUT_OF_SCOPE_GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # below it, a rejection-class top answer is unsure


@dataclass(frozen=True)
class Labelled:
    """A held-out text with its gold labels and its parse (made with all thresholds at zero)."""

    domain: str | None
    intent: str
    result: ParseResult


def calibrate(
    rows: list[Labelled],
    base: Thresholds,
    min_recall: float,
    max_threshold: float = 0.95,
    out_of_scope_share: float = DEFAULT_OUT_OF_SCOPE_SHARE,
) -> tuple[Thresholds, dict[str, Any]]:
    """Thresholds from `rows`, plus figures on how they split in-scope and out-of-scope turns."""
    in_scope = [r for r in rows if not base.is_out_of_scope(r.intent)]
    outside = [r for r in rows if base.is_out_of_scope(r.intent)]
    if len(outside) >= MIN_OUT_OF_SCOPE and len(in_scope) >= MIN_ROWS:
        return _balanced(in_scope, outside, base, out_of_scope_share)
    routed_right = [r for r in in_scope if r.domain and r.result.decision.domain == r.domain]
    router_confs = [r.result.decision.router_confidence for r in routed_right]
    router_t = _quantile(router_confs, 1 - min_recall) if len(router_confs) >= MIN_ROWS else None
    by_domain: dict[str, list[float]] = defaultdict(list)
    for r in routed_right:
        if r.result.decision.intent == r.intent:
            by_domain[r.domain].append(r.result.decision.confidence)  # type: ignore[index]
    all_confs = [c for cs in by_domain.values() for c in cs]
    pooled = _quantile(all_confs, 1 - min_recall) if len(all_confs) >= MIN_ROWS else None
    domains = {
        name: min(_quantile(cs, 1 - min_recall) or 0.0, max_threshold)
        for name, cs in by_domain.items()
        if len(cs) >= MIN_PER_DOMAIN and pooled is not None
    }
    thresholds = replace(
        base,
        router=min(router_t, max_threshold) if router_t is not None else base.router,
        domain_default=min(pooled, max_threshold) if pooled is not None else base.domain_default,
        domains=domains,
    )
    return thresholds, {
        "method": "recall",
        "rows": len(rows),
        "in_scope_rows": len(in_scope),
        "out_of_scope_rows": len(rows) - len(in_scope),
        "min_recall": min_recall,
    }


def _balanced(
    in_scope: list[Labelled], outside: list[Labelled], base: Thresholds, out_of_scope_share: float
) -> tuple[Thresholds, dict[str, Any]]:
    """The grid point with the fewest expected wrong turns (see the module doc); ties keep lower thresholds."""
    weight = out_of_scope_share / (1 - out_of_scope_share)
    best: tuple[float, Thresholds, float, float] | None = None
    for out_t in OUT_OF_SCOPE_GRID:
        for router_t in GRID:
            # The domain threshold is the rule's last test: decide once with it at zero, then a row is
            # answered under domain threshold d exactly when it was accepted with a confidence >= d.
            t0 = replace(base, router=router_t, domain_default=0.0, domains={}, out_of_scope=out_t)
            answers_in = [_accepted(r, t0) for r in in_scope]
            answers_out = [_accepted(r, t0) for r in outside]
            for domain_t in GRID:
                t = replace(base, router=router_t, domain_default=domain_t, domains={}, out_of_scope=out_t)
                right = sum(
                    a is not None and a[1] >= domain_t and a[0] == r.intent
                    for a, r in zip(answers_in, in_scope, strict=True)
                ) / len(in_scope)
                taken = sum(a is not None and a[1] >= domain_t for a in answers_out) / len(outside)
                if best is None or right - weight * taken > best[0] + 1e-9:
                    best = (right - weight * taken, t, right, taken)
    assert best is not None
    _, thresholds, right, taken = best
    return thresholds, {
        "method": "balanced",
        "out_of_scope_share": round(out_of_scope_share, 4),
        "rows": len(in_scope) + len(outside),
        "in_scope_rows": len(in_scope),
        "out_of_scope_rows": len(outside),
        "in_scope_accuracy": round(right, 4),
        "out_of_scope_accepted": round(taken, 4),
    }


def _accepted(row: Labelled, t: Thresholds) -> tuple[str | None, float] | None:
    """The intent and confidence this held-out parse would be answered with under `t` (None: rejected)."""
    decision = decide(row.result.router, row.result.domain, t)
    return None if decision.rejected else (decision.intent, decision.confidence)


def _quantile(values: list[float], q: float) -> float | None:
    """The lower empirical q-quantile (a value that occurs in `values`), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(q * len(ordered))))
    # Just below the chosen value so that value itself is still accepted.
    return max(0.0, ordered[index] - 1e-6)
