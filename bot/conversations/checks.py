"""Judging a conversation: the checks of each step on the bot's answer, and the expected outcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.conversations.spec import Expect, Step
from bot.reservations import Reservation


@dataclass(frozen=True)
class Heard:
    """What the caller heard after one step (all replies to it joined) and the state it left."""

    text: str
    intent: str | None = None
    domain: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    actions: tuple[str, ...] = ()  # handoff / hangup, when a reply ended the call


@dataclass(frozen=True)
class Failure:
    """The first check of a conversation that failed, with what the bot actually did."""

    check: str  # intent | slots | bot_says | call_ended | reservation | cancelled | ...
    message: str
    step: int | None = None  # 1-based; None for the outcome checks
    said: str | None = None
    reply: str | None = None
    intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)


def check_step(step: Step, number: int, heard: Heard) -> Failure | None:
    """The first failing check of `step` against what the bot answered, or None."""

    def fail(check: str, message: str) -> Failure:
        return Failure(check, message, number, step.describe(), heard.text, heard.intent, dict(heard.slots))

    if step.intent is not None and heard.intent != step.intent:
        return fail("intent", f"expected intent {step.intent}, got {heard.intent}")
    for name, want in (step.slots or {}).items():
        got = heard.slots.get(name)
        if not same_value(want, got):
            return fail("slots", f"expected slot {name}={want!r}, got {got!r}")
    if step.bot_says and not any(p in heard.text for p in step.bot_says):
        wanted = " | ".join(step.bot_says)
        return fail("bot_says", f"expected the reply to contain one of: {wanted}")
    return None


@dataclass(frozen=True)
class Outcome:
    """What a conversation left behind, for the `expect` checks."""

    touched: list[Reservation]  # made or changed in the conversation, as they are now
    cancelled: list[Reservation]  # cancelled in the conversation
    handoff: bool
    hangup: bool
    last_reply: str = ""


def check_outcome(expect: Expect, outcome: Outcome) -> Failure | None:
    """The first failing `expect` check, or None."""

    def fail(check: str, message: str) -> Failure:
        return Failure(check, message, reply=outcome.last_reply)

    if expect.reservation is not None:
        active = [r for r in outcome.touched if r.active]
        if not any(_matches(r, expect.reservation) for r in active):
            seen = "; ".join(describe_reservation(r) for r in active) or "none"
            return fail(
                "reservation",
                f"expected an active reservation with {_fields(expect.reservation)}; made or changed: {seen}",
            )
    if expect.cancelled is not None and not any(r.phone == expect.cancelled for r in outcome.cancelled):
        seen = ", ".join(r.phone for r in outcome.cancelled) or "none"
        return fail(
            "cancelled", f"expected the reservation of {expect.cancelled} cancelled; cancelled: {seen}"
        )
    if expect.no_reservation and outcome.touched:
        seen = "; ".join(describe_reservation(r) for r in outcome.touched)
        return fail("no_reservation", f"expected no reservation made or changed, got {seen}")
    if expect.handoff is not None and expect.handoff != outcome.handoff:
        return fail("handoff", f"expected handoff={str(expect.handoff).lower()}")
    if expect.hangup is not None and expect.hangup != outcome.hangup:
        return fail("hangup", f"expected hangup={str(expect.hangup).lower()}")
    return None


def same_value(want: Any, got: Any) -> bool:
    """Slot equality as a caller means it: 2 == 2.0 == "2"; text compared without outer spaces."""
    if want is None or got is None:
        return want is got
    number_want, number_got = _number(want), _number(got)
    if number_want is not None and number_got is not None:
        return number_want == number_got
    return str(want).strip() == str(got).strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit() and not value.startswith("0"):
        return float(value)
    return None


def _row(r: Reservation) -> dict[str, Any]:
    return {
        "store": r.store,
        "date": r.date.isoformat(),
        "time": r.time.strftime("%H:%M") if isinstance(r.time, dt.time) else str(r.time),
        "party_size": r.party_size,
        "name": r.name,
        "phone": r.phone,
        "seating": r.seating,
    }


def _matches(r: Reservation, want: dict[str, Any]) -> bool:
    row = _row(r)
    return all(same_value(v, row.get(k)) for k, v in want.items())


def _fields(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def describe_reservation(r: Reservation) -> str:
    row = {k: v for k, v in _row(r).items() if v is not None}
    return f"#{r.id} {r.status} " + _fields(row)
