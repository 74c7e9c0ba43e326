"""One call's dialogue state in the bot runtime: passed to every `Bot` method, never global."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from callbot.events import BotReply


@dataclass(frozen=True)
class PendingConfirm:
    """A turn the bot asked about instead of refusing ("할인 문의 맞으세요?"): the intents it named (one, or
    two close ones), their domains, and the text it will answer once the caller says which."""

    intents: tuple[str, ...]
    domains: tuple[str, ...]
    text: str
    confidence: float = 0.0


@dataclass
class DialogueSession:
    """Routing state of one call. Rasa's own dialogue state lives in each domain's tracker store.

    `failures` counts consecutive turns the bot did not understand (the telephony layer may read it);
    `sticky_domain` is the domain whose form is still active; `digits` buffers keyed digits until `#`.
    """

    call_id: str
    failures: int = 0
    sticky_domain: str | None = None
    requested_slot: str | None = None
    numeric_slot: bool = False
    focus_domain: str | None = None
    keypad_menu: bool = False
    digits: str = ""
    turns: int = 0
    last_reply: BotReply | None = None
    form_prompt: str | None = None  # the sticky domain's open question, asked again after a refusal
    # The domain whose last reply was its own question (a read-back, not a fixed answer): the next
    # "네"/"아니요" answers it there.
    answer_domain: str | None = None
    # A digression opened another domain's form ("어느 매장이요?") while this domain's form waited:
    # when that one ends, this domain is sticky again and its question is asked again.
    suspended_domain: str | None = None
    suspended_prompt: str | None = None
    # Turns in a row in which the form's question got no answer (the keypad offer, then a person).
    slot_misses: int = 0
    missed_slot: str | None = None
    # A goodbye or handoff held back until the caller confirms it (`bot.confirm_end_below`).
    pending_end: BotReply | None = None
    # A question the bot asked about an unsure turn (bot.confirm): the next turn may answer it.
    pending_confirm: PendingConfirm | None = None
    same_replies: int = 0  # the last reply said again this many times in a row
    shared_slots: dict[str, Any] = field(default_factory=dict)  # bot.shared_slots values said so far
    domains_used: set[str] = field(default_factory=set)
    ended: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def state(self) -> dict[str, Any]:
        """A JSON-friendly snapshot for logs and the shell's `/state`."""
        return {
            "call_id": self.call_id,
            "turns": self.turns,
            "failures": self.failures,
            "sticky_domain": self.sticky_domain,
            "requested_slot": self.requested_slot,
            "focus_domain": self.focus_domain,
            "answer_domain": self.answer_domain,
            "suspended_domain": self.suspended_domain,
            "slot_misses": self.slot_misses,
            "missed_slot": self.missed_slot,
            "shared_slots": dict(self.shared_slots),
            "keypad_menu": self.keypad_menu,
            "digits": self.digits,
            "last_reply": self.last_reply.text if self.last_reply else None,
            "pending_end": self.pending_end.action.value if self.pending_end else None,
            "pending_confirm": list(self.pending_confirm.intents) if self.pending_confirm else None,
            "domains_used": sorted(self.domains_used),
        }
