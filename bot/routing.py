"""Routing rules of the dialogue runtime: pure functions over the session state and the parses.

A caller's text goes to one domain's Rasa model. While a domain's form is active that domain is
sticky (its own model also knows the common intents, so "네" stays inside a reservation) and its form
judges every turn; what the form hands back (`bot.forms`) may go to another domain as a digression.
Otherwise the router picks the domain. The accept/reject rule itself is `bot.nlu.decision.decide`; this module turns
its `Decision` into what the runtime does next, and escalates repeated failures: re-ask, clarify with
the domain names, offer the keypad menu, hand over to a person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.nlu.decision import OUT_OF_SCOPE, Decision
from callbot.config import Config

DEFAULT_LABELS = {
    "reservation": "예약",
    "store": "매장 안내",
    "menu": "메뉴",
    "delivery": "배달",
    "service": "기타 문의",
}
# Common intents (without the `<common>_` prefix) the runtime gives a meaning of its own.
AGENT, REPEAT, GOODBYE, AFFIRM, DENY = "agent", "repeat", "goodbye", "affirm", "deny"
GREET = "greet"
OUT_OF_SCOPE_NAME = "out_of_scope"


class Step(StrEnum):
    """What the runtime does with a turn."""

    DIALOGUE = "dialogue"  # the chosen domain's Agent handles the message
    COMMON = "common"  # the common domain's Agent answers (greet, goodbye, ...)
    REPEAT = "repeat"  # say the last reply again
    HANDOFF = "handoff"  # connect a person
    REFUSE = "refuse"  # polite out-of-scope refusal
    NOT_UNDERSTOOD = "not_understood"  # escalate through `escalate`


class Escalation(StrEnum):
    REPROMPT = "reprompt"
    CLARIFY = "clarify"
    KEYPAD = "keypad"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class Texts:
    """What the bot says when no model answers. `{domains}` and `{menu}` are filled in by the runtime."""

    reprompt: str = "죄송합니다, 잘 못 알아들었어요. 다시 한 번 말씀해 주시겠어요?"
    clarify: str = "죄송합니다, 잘 이해하지 못했어요. {domains} 중 어떤 걸 도와드릴까요?"
    keypad: str = "번호로 선택하실 수도 있어요. {menu}, 상담원 연결은 0번을 눌러 주세요."
    keypad_pick: str = "{label} 관련해서 도와드릴게요. 말씀해 주세요."
    handoff: str = "상담원에게 연결해 드리겠습니다. 잠시만 기다려 주세요."
    refusal: str = "죄송하지만 그 문의는 저희가 도와드리기 어렵습니다."
    goodbye: str = "감사합니다. 좋은 하루 보내세요."
    greeting: str = "안녕하세요, 무엇을 도와드릴까요?"
    nothing_to_repeat: str = "무엇을 도와드릴까요?"
    error: str = "죄송합니다. 잠시 문제가 생겨 상담원에게 연결해 드리겠습니다."
    still_there: str = "여보세요? {prompt}"  # silence while a form waits for an answer
    # An ending the caller did not clearly ask for (`confirm_end_below`) is asked about first.
    confirm_goodbye: str = "통화를 종료할까요?"
    confirm_handoff: str = "상담원에게 연결해 드릴까요?"
    carry_on: str = "네, 계속 도와드릴게요. 무엇을 도와드릴까요?"  # "아니요" to one of those questions
    # A turn the bot half understood is asked about instead of refused (bot.confirm, bot/misheard.py).
    confirm_one: str = "{topic} 문의 맞으세요?"
    confirm_two: str = "{first} 문의세요, 아니면 {second} 문의세요?"
    confirm_declined: str = "죄송합니다, 그럼 어떤 걸 도와드릴까요? 다시 한 번 말씀해 주세요."


@dataclass(frozen=True)
class RoutingSettings:
    """The runtime's routing knobs (`bot.*` keys); every field has a working default."""

    common_domain: str = "common"
    labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    clarify_after: int = 1
    keypad_after_failures: int = 2
    handoff_after_failures: int = 3
    # keyed as digits then `#` (a phone number may start with 0); float slots are numbers anyway
    number_slots: tuple[str, ...] = ("phone",)
    zero_first_slots: tuple[str, ...] = ("phone",)  # numbers that begin with 0: there 0 is no handoff
    # Slots whose value, said in one domain, every other domain receives ("the store already given").
    shared_slots: tuple[str, ...] = ()
    # A goodbye or a request for a person understood with less confidence than this ends the call only
    # after the caller says yes to texts.confirm_goodbye / confirm_handoff (0: never ask). A misheard
    # "좋으세요?" taken for a farewell must not hang up on the caller.
    confirm_end_below: float = 0.8
    texts: Texts = field(default_factory=Texts)

    @classmethod
    def from_config(cls, config: Config) -> RoutingSettings:
        """Read the routing keys of `bot:` (and `data.common_domain`), reporting every bad key at once."""
        d = cls()
        r = config.reader("bot")
        labels = r.mapping("domain_labels", {})
        bad = [k for k, v in labels.items() if not isinstance(v, str) or not v.strip()]
        for key in bad:
            r.error(f"domain_labels.{key}", "expected a non-empty display name")
        texts = r.mapping("texts", {})
        known_texts = set(Texts.__dataclass_fields__)
        for key, value in texts.items():
            if key not in known_texts:
                r.error(f"texts.{key}", f"unknown text (known: {', '.join(sorted(known_texts))})")
            elif not isinstance(value, str):
                r.error(f"texts.{key}", f"expected a string, got {value!r}")
        settings = cls(
            common_domain=config.section("data").get("common_domain") or d.common_domain,
            labels={**DEFAULT_LABELS, **{k: v for k, v in labels.items() if k not in bad}},
            clarify_after=r.int("clarify_after", d.clarify_after, min=0),
            keypad_after_failures=r.int("keypad_after_failures", d.keypad_after_failures, min=1),
            handoff_after_failures=r.int("handoff_after_failures", d.handoff_after_failures, min=1),
            number_slots=tuple(r.str_list("dtmf_number_slots", list(d.number_slots))),
            zero_first_slots=tuple(r.str_list("dtmf_zero_first_slots", list(d.zero_first_slots))),
            shared_slots=tuple(r.str_list("shared_slots", list(d.shared_slots))),
            confirm_end_below=r.float("confirm_end_below", d.confirm_end_below, min=0.0, max=1.0),
            texts=Texts(**{k: v for k, v in texts.items() if k in known_texts and isinstance(v, str)}),
        )
        r.done()
        return settings

    def label(self, domain: str) -> str:
        return self.labels.get(domain, domain)

    def common_intent(self, name: str) -> str:
        """`affirm` -> `common_affirm` (with the configured common domain name)."""
        return f"{self.common_domain}_{name}"


@dataclass(frozen=True)
class Plan:
    """The outcome of routing one text turn."""

    step: Step
    domain: str | None
    intent: str | None
    confidence: float


def parse_domain(sticky_domain: str | None, focus_domain: str | None) -> str | None:
    """The domain whose model parses the text without asking the router (None: ask the router).

    A domain with an active form is sticky; a domain picked on the keypad menu gets the next turn.
    """
    return sticky_domain or focus_domain


def common_name(intent: str | None, settings: RoutingSettings) -> str | None:
    """`common_affirm` -> `affirm`; None for intents of other domains."""
    prefix = settings.common_domain + "_"
    if intent and intent.startswith(prefix):
        return intent[len(prefix) :]
    return None


def plan_text(decision: Decision, sticky_domain: str | None, settings: RoutingSettings) -> Plan:
    """Decide what happens with a parsed text turn.

    Inside a sticky domain everything but a request for a person goes to that domain's form, even
    out-of-scope or low-confidence text ("김민수요", "공일공 일이삼사..."): names and numbers look like
    nothing the models know, so the form judges whether the words answer its question. What does not
    (chit-chat, "주차 돼?", "다시 말해 주세요", a farewell) the domain's rules answer, or hand back to
    the runtime (`bot.forms`), which falls back to the usual refusal, repeat or goodbye.
    """
    domain = sticky_domain or decision.domain

    def plan(step: Step, where: str | None = domain) -> Plan:
        return Plan(step, where, decision.intent, decision.confidence)

    common = common_name(decision.intent, settings)
    if sticky_domain:
        return plan(Step.HANDOFF) if common == AGENT and not decision.rejected else plan(Step.DIALOGUE)
    if decision.rejected and decision.reason == OUT_OF_SCOPE:
        return plan(Step.REFUSE)
    if decision.rejected:
        return plan(Step.NOT_UNDERSTOOD)
    if common == AGENT:
        return plan(Step.HANDOFF)
    if common == REPEAT:
        return plan(Step.REPEAT)
    if common == GOODBYE:
        return plan(Step.COMMON, settings.common_domain)
    if common is not None or domain == settings.common_domain:
        return plan(Step.COMMON, settings.common_domain)
    return plan(Step.DIALOGUE)


def escalate(failures: int, settings: RoutingSettings) -> Escalation:
    """The answer to the `failures`-th consecutive turn the bot did not understand (1-based)."""
    if failures >= settings.handoff_after_failures:
        return Escalation.HANDOFF
    if failures >= settings.keypad_after_failures:
        return Escalation.KEYPAD
    if failures >= settings.clarify_after:
        return Escalation.CLARIFY
    return Escalation.REPROMPT


def menu_domains(domains: Sequence[str], settings: RoutingSettings) -> list[str]:
    """Domains in keypad order: the loaded domains except the common one (key 1 is the first)."""
    return [d for d in domains if d != settings.common_domain][:9]


def clarify_text(domains: Sequence[str], settings: RoutingSettings) -> str:
    """ "예약, 매장 안내, 메뉴, 배달 중 어떤 걸 도와드릴까요?" from the domains' display names."""
    names = ", ".join(settings.label(d) for d in menu_domains(domains, settings))
    return settings.texts.clarify.format(domains=names)


def keypad_text(domains: Sequence[str], settings: RoutingSettings) -> str:
    """ "예약은 1번, 매장 안내는 2번, ... 상담원 연결은 0번을 눌러 주세요." """
    items = [f"{_topic(settings.label(d))} {i}번" for i, d in enumerate(menu_domains(domains, settings), 1)]
    return settings.texts.keypad.format(menu=", ".join(items))


def _topic(word: str) -> str:
    """Attach the topic particle 은/는 by whether the last syllable has a final consonant."""
    last = word[-1] if word else ""
    if "가" <= last <= "힣":
        return word + ("은" if (ord(last) - 0xAC00) % 28 else "는")
    return word + "은(는)"
