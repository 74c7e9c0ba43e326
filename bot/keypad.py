"""Keypad (DTMF) rules: what one pressed key means in the current dialogue state. Pure functions.

- `0` asks for a person anywhere, except while a form asks for a number that begins with 0 (a phone
  number): then it starts the number, and `0` then `#` asks for the person.
- `*` repeats the last reply and clears a half-keyed number.
- After the keypad menu was offered, `1`..`9` pick a domain in menu order.
- Inside a domain's form, `1` = 네 and `2` = 아니요; when the form asks for a number (or digits are
  already buffered), digits accumulate until `#` and are sent as that number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

DIGITS = "0123456789"
MAX_DIGITS = 12


class KeyStep(StrEnum):
    HANDOFF = "handoff"
    PICK = "pick"  # a domain chosen from the menu
    AFFIRM = "affirm"
    DENY = "deny"
    NUMBER = "number"  # a number keyed then `#`
    BUFFER = "buffer"  # digit kept; nothing to say yet
    REPEAT = "repeat"
    MENU = "menu"  # offer the keypad menu
    IGNORE = "ignore"


@dataclass(frozen=True)
class KeyResult:
    step: KeyStep
    buffer: str = ""  # the session's digit buffer after this key
    domain: str | None = None
    number: str | None = None


def route_digit(
    digit: str,
    *,
    buffer: str,
    menu_offered: bool,
    sticky_domain: str | None,
    numeric_slot: bool,
    menu: Sequence[str],
    zero_first: bool = False,
) -> KeyResult:
    """Interpret one key. `menu` lists the domains of keys 1..n; `buffer` holds digits keyed so far."""
    if digit == "*":
        return KeyResult(KeyStep.REPEAT)
    if digit == "#":
        if buffer == "0":
            return KeyResult(KeyStep.HANDOFF)
        if buffer:
            return KeyResult(KeyStep.NUMBER, number=buffer)
        return KeyResult(KeyStep.IGNORE)
    if len(digit) != 1 or digit not in DIGITS:
        return KeyResult(KeyStep.IGNORE, buffer=buffer)
    if buffer:
        return KeyResult(KeyStep.BUFFER, buffer=(buffer + digit)[:MAX_DIGITS])
    if sticky_domain is not None and numeric_slot and (digit != "0" or zero_first):
        return KeyResult(KeyStep.BUFFER, buffer=digit)
    if digit == "0":
        return KeyResult(KeyStep.HANDOFF)
    if sticky_domain is not None:
        if digit == "1":
            return KeyResult(KeyStep.AFFIRM, domain=sticky_domain)
        if digit == "2":
            return KeyResult(KeyStep.DENY, domain=sticky_domain)
        return KeyResult(KeyStep.BUFFER, buffer=digit)
    index = int(digit) - 1
    if menu_offered and index < len(menu):
        return KeyResult(KeyStep.PICK, domain=menu[index])
    return KeyResult(KeyStep.MENU)


def number_message(number: str, slot: str | None, intents: Sequence[str], domain: str) -> str:
    """The message a keyed number becomes for a domain Agent.

    With a requested slot and an inform intent in the domain (`<domain>_inform` or `inform`), Rasa's
    message syntax fills the slot through an entity of the same name: `/reservation_inform{"party_size": 4}`.
    Otherwise the digits go as plain text for the model and the form's own mappings.
    """
    intent = next((i for i in (f"{domain}_inform", "inform") if i in intents), None)
    if slot and intent:
        return f'/{intent}{{"{slot}": {int(number)}}}'
    return number
