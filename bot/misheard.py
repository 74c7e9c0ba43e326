"""Turns the bot half-understood: misheard words read again, and a question instead of a refusal.

`Bot` (bot/runtime.py) mixes this in. A turn outside a form that the rejection rule would refuse (out of
scope, or unsure) gets two more chances before the refusal:
1. Other readings of it: the recognizer's other hypotheses (n-best), the text re-spaced ("배 달얼마나
   걸려" -> "배달 얼마나 걸려") and the text with its unknown words read as the business words they are
   one jamo from (`bot.nlu.vocabulary`: "학생 활인 되나요" -> "학생 할인 되나요"). A reading the models
   accept as a business intent, surely enough (`bot.confirm.accept_rescued`), is the turn.
2. A yes/no question naming the topic ("할인 문의 맞으세요?", or two close ones: "할인 문의세요, 아니면 배달
   문의세요?"), when there is business evidence: a reading accepted less surely, the best business
   intent across router x domain above `bot.confirm.band`, or a business word of the vocabulary (as said
   or corrected) that the models, asked about the word alone, take as a business intent. Chit-chat
   without such evidence stays refused, and so does a turn longer than `bot.confirm.max_length` letters
   (a story that names a business word is not a question about it).
The next turn answers the question: yes or the topic named -> the intent is answered (the asked turn's
text goes to the domain, so what it carried, e.g. a store, still counts); no -> asked to say it again
(the escalation ladder as for any turn not understood); "다시요" -> asked again; anything else (silence
included) is an ordinary turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot import routing
from bot.nlu.decision import Decision, best_business_intent, decide, top_intent, with_intent
from bot.nlu.kiwi_tokenizer import respaced
from bot.nlu.vocabulary import letters
from bot.session import PendingConfirm
from callbot.config import Config
from callbot.events import BotReply, TurnOutcome, Understanding

if TYPE_CHECKING:
    from bot.agents import LoadedVersion
    from bot.session import DialogueSession

logger = logging.getLogger(__name__)

JOINT_DOMAINS = 2  # business domains of the router's ranking whose models score a refused turn


@dataclass(frozen=True)
class ConfirmSettings:
    """`bot.confirm`: when the bot asks about a turn instead of refusing it."""

    enabled: bool = True
    domains: tuple[str, ...] = ()  # domains whose intents may be asked about; () = every business domain
    corrections: bool = True  # read unknown words as the business words they are one jamo from
    alternatives: int = 2  # the recognizer's other hypotheses tried (0 = none)
    accept_rescued: float = 0.9  # another reading accepted at least this surely is answered at once
    band: float = 0.2  # the best business intent across router x domain asked about from this score
    close: float = 0.4  # a second topic scoring at least this share of the first is offered too
    # the bot asks only about a turn no longer (in letters) than this; None (auto) = the length 99% of the
    # business examples stay within (`Vocabulary.longest`), 0 = any: a long story that names a business
    # word is not a question about it
    max_length: int | None = None
    topics: Mapping[str, str] = field(default_factory=dict)  # intent -> how the question names it

    @classmethod
    def from_config(cls, config: Config) -> ConfirmSettings:
        """Read `bot.confirm`, reporting every bad key at once."""
        d = cls()
        r = config.reader("bot")
        topics = r.mapping("confirm.topics", {})
        for key, value in topics.items():
            if not isinstance(value, str) or not value.strip():
                r.error(f"confirm.topics.{key}", "expected how the bot names the topic, e.g. 할인")
        settings = cls(
            enabled=r.bool("confirm.enabled", d.enabled),
            domains=tuple(r.str_list("confirm.domains", list(d.domains))),
            corrections=r.bool("confirm.corrections", d.corrections),
            alternatives=r.int("confirm.alternatives", d.alternatives, min=0, max=5),
            accept_rescued=r.float("confirm.accept_rescued", d.accept_rescued, min=0.0, max=1.0),
            band=r.float("confirm.band", d.band, min=0.0, max=1.0),
            close=r.float("confirm.close", d.close, min=0.0, max=1.0),
            max_length=_max_length(r),
            topics={str(k): str(v) for k, v in topics.items() if isinstance(v, str) and v.strip()},
        )
        unknown = set(config.section("bot").get("confirm") or {}) - {
            "enabled",
            "domains",
            "corrections",
            "alternatives",
            "accept_rescued",
            "band",
            "close",
            "max_length",
            "topics",
        }
        for key in sorted(unknown):
            r.error(f"confirm.{key}", "unknown key")
        r.done()
        return settings


@dataclass(frozen=True)
class Reading:
    """One way of reading a turn: its text, both parses and the decision on them."""

    text: str
    router_parse: dict[str, Any] | None
    domain_parse: dict[str, Any] | None
    decision: Decision


@dataclass(frozen=True)
class Candidate:
    """A business intent the bot may ask about, how likely it is, and the text to answer it with."""

    intent: str
    domain: str
    score: float
    text: str


@dataclass(frozen=True)
class Rereading:
    """What was read about a refused or unsure turn: its other readings accepted as business intents
    (score: their confidence), the best business intent of each likely domain of each reading (score:
    router x domain model), and the telling business words the models read alone as their intent
    (score: that reading's confidence)."""

    rescued: tuple[tuple[Reading, Candidate], ...] = ()
    joint: tuple[Candidate, ...] = ()
    keywords: tuple[Candidate, ...] = ()


def _max_length(r: Any) -> int | None:
    value = r.value("confirm.max_length", "auto", (str, int))
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        r.error("confirm.max_length", f"expected auto or a number of letters (0 = any), got {value!r}")
        return None
    return value


def settle(
    base: Decision, evidence: Rereading, settings: ConfirmSettings, length: int = 0
) -> tuple[Reading | None, list[Candidate]]:
    """The one rule of the band, pure: another reading that is the turn, else the intents to ask about
    (best first; none without business evidence, or for a turn longer than `settings.max_length`
    letters). Also used offline to choose the settings (benchmarks/confirm_tuning.py)."""
    best = max(evidence.rescued, key=lambda rc: rc[1].score, default=None)
    if best is not None and best[1].score >= settings.accept_rescued:
        if base.rejected or best[1].score > base.confidence:
            return best[0], []
    if not base.rejected or (settings.max_length and length > settings.max_length):
        return None, []
    candidates = [c for _, c in evidence.rescued]
    candidates += [c for c in evidence.joint if c.score >= settings.band]
    candidates += [replace(c, score=c.score * settings.band) for c in evidence.keywords]
    allowed = set(settings.domains)
    ranked: dict[str, Candidate] = {}
    for c in candidates:
        if (not allowed or c.domain in allowed) and (
            c.intent not in ranked or c.score > ranked[c.intent].score
        ):
            ranked[c.intent] = c
    return None, sorted(ranked.values(), key=lambda c: (-c.score, c.intent))


class MisheardTurns:
    """Other readings of a refused turn, the confirmation question, and its answer (for `Bot`)."""

    confirm: ConfirmSettings

    async def _rescue(
        self: Any, models: LoadedVersion, base: Reading, alternatives: tuple[tuple[str, float], ...]
    ) -> tuple[Reading | None, list[Candidate]]:
        """For a refused, unsure or barely accepted turn: another reading accepted surely enough (the
        turn, read again), else None and, for a refused or unsure one, the business intents to ask about
        (best first; none without business evidence)."""
        if not self.confirm.enabled:
            return None, []
        evidence = await self._evidence(models, base, alternatives, everything=False)
        return settle(base.decision, evidence, self.limits(models), letters(base.text))

    def limits(self: Any, models: LoadedVersion) -> ConfirmSettings:
        """`confirm` with `max_length: auto` read from this version's business examples."""
        if self.confirm.max_length is not None:
            return self.confirm
        longest = models.vocabulary.longest if models.vocabulary is not None else 0
        return replace(self.confirm, max_length=longest)

    async def _evidence(
        self: Any,
        models: LoadedVersion,
        base: Reading,
        alternatives: tuple[tuple[str, float], ...],
        everything: bool = True,
    ) -> Rereading:
        """Read the turn again; without `everything`, stop where `settle` needs no more."""
        readings = [await self._read(models, t) for t in self._other_texts(models, base.text, alternatives)]
        rescued = tuple(
            (r, Candidate(r.decision.intent, r.decision.domain or "", r.decision.confidence, r.text))
            for r in readings
            if not r.decision.rejected and r.decision.intent and not self._is_common(r.decision.domain)
        )
        best = max((c.score for _, c in rescued), default=0.0)
        sure = best >= self.confirm.accept_rescued and (
            base.decision.rejected or best > base.decision.confidence
        )
        if not everything and (sure or not base.decision.rejected):
            return Rereading(rescued)
        joint = [c for reading in [base, *readings] for c in await self._joint(models, reading)]
        return Rereading(rescued, tuple(joint), tuple(await self._keywords(models, base.text)))

    def _other_texts(
        self: Any, models: LoadedVersion, text: str, alternatives: tuple[tuple[str, float], ...]
    ) -> list[str]:
        """The recognizer's other hypotheses, then corrected readings of the text and of those."""
        # The recognizer lists its own text first: `confirm.alternatives` counts the others.
        others = [a.strip() for a, _ in alternatives if a.strip() and a.strip() != text]
        heard = list(dict.fromkeys(others))[: self.confirm.alternatives]
        texts = list(heard)
        # the words as the caller spaced them: recognizers split and join words where nobody paused
        spaced = respaced(text)
        if spaced.replace(" ", "") != text.replace(" ", ""):
            spaced = text  # Kiwi changed a letter: not a spacing of what was heard
        elif spaced != text:
            texts.append(spaced)
        vocabulary = models.vocabulary
        if self.confirm.corrections and vocabulary is not None:
            for source in dict.fromkeys([text, spaced, *heard]):
                texts.extend(reading for reading, _fixes in vocabulary.corrected(source))
        return [t for t in dict.fromkeys(texts) if t != text]

    async def _read(self: Any, models: LoadedVersion, text: str) -> Reading:
        router_parse, domain_parse = await self._route(models, text)
        return Reading(
            text, router_parse, domain_parse, decide(router_parse, domain_parse, models.thresholds)
        )

    async def _joint(self: Any, models: LoadedVersion, reading: Reading) -> list[Candidate]:
        """The best business intent of each likely business domain, scored router x domain model."""
        ranking = (reading.router_parse or {}).get("intent_ranking") or []
        domains = [
            (r.get("name"), float(r.get("confidence") or 0.0))
            for r in ranking
            if r.get("name") in models.agents and not self._is_common(r.get("name"))
        ][:JOINT_DOMAINS]
        found = []
        routed, _ = top_intent(reading.router_parse)
        for domain, share in domains:
            parse = reading.domain_parse if domain == routed else None
            if parse is None:
                parse = await models.agents[domain].parse_message(reading.text)
            best = best_business_intent(parse, models.thresholds)
            if best is not None and not self._is_common(domain):
                found.append(Candidate(best[0], domain, share * best[1], reading.text))
        return found

    async def _keywords(self: Any, models: LoadedVersion, text: str) -> list[Candidate]:
        """Telling words of business intents in the text (as said or corrected) that the models, asked
        about the word alone, accept as that very intent ("할인" -> menu_discount; not "오늘", which
        tells of cancellations but alone reads as opening hours)."""
        vocabulary = models.vocabulary
        if vocabulary is None:
            return []
        found = []
        for evidence in vocabulary.evidence(text):
            reading = models.keyword_readings.get(evidence.word)
            if reading is None:
                reading = await self._read(models, evidence.word)
                models.keyword_readings[evidence.word] = reading
            d = reading.decision
            if not d.rejected and d.intent in evidence.intents and not self._is_common(d.domain):
                said = (
                    text
                    if not evidence.corrected_from
                    else text.replace(evidence.corrected_from, evidence.word, 1)
                )
                found.append(Candidate(d.intent, d.domain or "", d.confidence, said))
        return found

    def _is_common(self: Any, domain: str | None) -> bool:
        return domain is None or domain == self.routing.common_domain

    # -- asking and the answer --------------------------------------------------------------------

    def _ask(
        self: Any,
        models: LoadedVersion,
        session: DialogueSession,
        candidates: list[Candidate],
        read: Understanding,
    ) -> BotReply:
        """ "할인 문의 맞으세요?" (or two close topics), remembered for the next turn."""
        first = candidates[0]
        asked = [first]
        if len(candidates) > 1 and candidates[1].score >= self.confirm.close * first.score:
            asked.append(candidates[1])
        texts = self.routing.texts
        names = [self._topic(models, c.intent, c.domain) for c in asked]
        if len(asked) == 1:
            text = texts.confirm_one.format(topic=names[0])
        else:
            text = texts.confirm_two.format(first=names[0], second=names[1])
        session.pending_confirm = PendingConfirm(
            tuple(c.intent for c in asked), tuple(c.domain for c in asked), first.text, round(first.score, 4)
        )
        session.answer_domain = None  # the yes or no answers this question
        logger.debug("bot.confirm.asked call=%s intents=%s", session.call_id, [c.intent for c in asked])
        reply = BotReply(
            text=text, domain=first.domain, intent=first.intent, confidence=round(first.score, 4)
        )
        understood = replace(
            read,
            outcome=TurnOutcome.CONFIRM_ASKED,
            confirm=tuple(c.intent for c in asked),
            text=first.text if first.text != read.text else read.text,
        )
        return replace(reply, understanding=understood)

    def _topic(self: Any, models: LoadedVersion, intent: str, domain: str) -> str:
        """How the question names an intent: `bot.confirm.topics`, else the vocabulary's most telling
        word of the intent, else the domain's label."""
        if intent in self.confirm.topics:
            return self.confirm.topics[intent]
        word = models.vocabulary.topic(intent) if models.vocabulary is not None else None
        return word or self.routing.label(domain)

    async def _confirm_answer(
        self: Any, models: LoadedVersion, session: DialogueSession, text: str, pending: PendingConfirm
    ) -> BotReply | None:
        """The reply to `text` said to a confirmation question: the intent answered on yes or on its
        topic named, a new try on no, the question again on "다시요"; None for anything else."""
        said, decision = await self._common_said(models, text)
        chosen = 0 if said == routing.AFFIRM else self._named(models, text, pending)
        if chosen is None and said != routing.DENY:
            chosen = await self._answered_as(models, text, pending)
        if chosen is not None:
            intent, domain = pending.intents[chosen], pending.domains[chosen]
            parse = await models.agents[domain].parse_message(pending.text)
            parse = with_intent(parse, intent, max(pending.confidence, top_intent(parse)[1]))
            reply = await self._dialogue(
                models, session, domain, pending.text, parse, intent, pending.confidence
            )
            if not reply.text:
                return None
            return replace(reply, understanding=Understanding(TurnOutcome.CONFIRM_YES, text=pending.text))
        if said == routing.DENY:  # a new try; the keypad menu and a person come as for any miss
            level = routing.escalate(session.failures + 1, self.routing)
            if level in (routing.Escalation.REPROMPT, routing.Escalation.CLARIFY):
                session.failures += 1
                reply = self._fixed(
                    self.routing.texts.confirm_declined, None, decision.intent, decision.confidence
                )
            else:
                reply = self._not_understood(models, session, decision.intent, decision.confidence)
            return replace(reply, understanding=Understanding(TurnOutcome.CONFIRM_NO))
        if said == routing.REPEAT:
            session.pending_confirm = pending
            return self._repeat(session)
        return None

    def _named(self: Any, models: LoadedVersion, text: str, pending: PendingConfirm) -> int | None:
        """Which asked topic the answer names by its word ("할인이요"), if exactly one."""
        named = [
            i
            for i, (intent, domain) in enumerate(zip(pending.intents, pending.domains, strict=True))
            if self._topic(models, intent, domain).split()[-1] in text
        ]
        return named[0] if len(named) == 1 else None

    async def _answered_as(
        self: Any, models: LoadedVersion, text: str, pending: PendingConfirm
    ) -> int | None:
        """The asked intent the answer itself is understood as ("배달 되는지요" to a delivery question)."""
        reading = await self._read(models, text)
        if not reading.decision.rejected and reading.decision.intent in pending.intents:
            return pending.intents.index(reading.decision.intent)
        return None
