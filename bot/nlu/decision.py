"""Accept or reject a parse: the one rule shared by the runtime and `callbot nlu eval`.

A caller's turn goes router -> domain model. It is rejected (the bot says it did not understand, or
hands over) when the router is unsure which domain it belongs to, when the domain model labels it
out-of-scope, or when the domain model is unsure of the intent. The thresholds are calibrated per
layer on held-out data at training time and stored in the model version's manifest.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Reasons a Decision carries; the runtime may log them, the eval report counts them.
ACCEPTED = "accepted"
ROUTER_LOW_CONFIDENCE = "router_low_confidence"
OUT_OF_SCOPE = "out_of_scope"
DOMAIN_LOW_CONFIDENCE = "domain_low_confidence"
NO_DOMAIN_MODEL = "no_domain_model"


def is_rejection_class(intent: str | None, names: tuple[str, ...]) -> bool:
    """True when `intent` is one of `names`, with or without a domain prefix (`common_out_of_scope`)."""
    if not intent:
        return False
    return any(intent == n or intent.endswith("_" + n) for n in names)


@dataclass(frozen=True)
class Thresholds:
    """Per-layer minimum confidences. `domains` overrides `domain_default` per domain name."""

    router: float = 0.5
    domain_default: float = 0.5
    domains: Mapping[str, float] = field(default_factory=dict)
    out_of_scope_intents: tuple[str, ...] = ("out_of_scope",)
    # The rejection class wins only at this confidence or above; below it the best business intent of
    # the same parse competes under the domain threshold. 0: the rejection class always wins.
    out_of_scope: float = 0.0

    def for_domain(self, name: str) -> float:
        return self.domains.get(name, self.domain_default)

    def is_out_of_scope(self, intent: str | None) -> bool:
        """True for the rejection class, with or without a domain prefix (`common_out_of_scope`)."""
        return is_rejection_class(intent, self.out_of_scope_intents)

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any] | None, default: Thresholds | None = None) -> Thresholds:
        """Read `manifest["thresholds"]`: router, domain_default, domains {name: t}, out_of_scope_intents."""
        base = default or cls()
        if not data:
            return base
        return cls(
            router=float(data.get("router", base.router)),
            domain_default=float(data.get("domain_default", base.domain_default)),
            domains={str(k): float(v) for k, v in (data.get("domains") or {}).items()},
            out_of_scope_intents=tuple(data.get("out_of_scope_intents") or base.out_of_scope_intents),
            out_of_scope=float(data.get("out_of_scope", base.out_of_scope)),
        )

    def to_manifest(self) -> dict[str, Any]:
        return {
            "router": round(self.router, 4),
            "domain_default": round(self.domain_default, 4),
            "domains": {k: round(v, 4) for k, v in sorted(self.domains.items())},
            "out_of_scope_intents": list(self.out_of_scope_intents),
            "out_of_scope": round(self.out_of_scope, 4),
        }


@dataclass(frozen=True)
class Decision:
    """What a turn was understood as. `intent`/`domain` are the best guesses even when rejected."""

    domain: str | None
    intent: str | None
    confidence: float
    rejected: bool
    reason: str
    router_confidence: float = 0.0


def top_intent(parse: Mapping[str, Any] | None) -> tuple[str | None, float]:
    """`(name, confidence)` of a Rasa parse result's top intent."""
    intent = (parse or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def best_business_intent(parse: Mapping[str, Any] | None, thresholds: Thresholds) -> tuple[str, float] | None:
    """The most confident intent of a parse's ranking that is not the rejection class."""
    for item in (parse or {}).get("intent_ranking") or []:
        name = item.get("name")
        if name and not thresholds.is_out_of_scope(name):
            return name, float(item.get("confidence") or 0.0)
    return None


def with_intent(parse: Mapping[str, Any], name: str, confidence: float) -> dict[str, Any]:
    """A copy of a Rasa parse whose top intent is `name` (the decision's, when it overrode the top)."""
    return {**parse, "intent": {"name": name, "confidence": confidence}}


def decide(
    router_parse: Mapping[str, Any] | None,
    domain_parse: Mapping[str, Any] | None,
    thresholds: Thresholds,
    domain: str | None = None,
) -> Decision:
    """Apply the rejection rule to a router parse and the chosen domain model's parse.

    `router_parse` may be None when the runtime skips routing (inside a form the sticky domain parses
    alone); then `domain` names the domain. Otherwise the domain is the router's top label.
    """
    routed, router_conf = top_intent(router_parse)
    if router_parse is not None:
        domain = routed
    intent, conf = top_intent(domain_parse)

    def result(rejected: bool, reason: str) -> Decision:
        return Decision(domain, intent, conf, rejected, reason, router_conf)

    if router_parse is not None and (domain is None or router_conf < thresholds.router):
        return result(True, ROUTER_LOW_CONFIDENCE)
    if domain_parse is None or intent is None:
        return result(True, NO_DOMAIN_MODEL)
    if thresholds.is_out_of_scope(intent):
        business = best_business_intent(domain_parse, thresholds)
        if business is None or conf >= thresholds.out_of_scope:
            return result(True, OUT_OF_SCOPE)
        intent, conf = business  # an unsure rejection: the best business intent competes
    if domain is not None and conf < thresholds.for_domain(domain):
        return result(True, DOMAIN_LOW_CONFIDENCE)
    return result(False, ACCEPTED)
