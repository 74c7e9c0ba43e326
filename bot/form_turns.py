"""The runtime's side of a turn inside a domain's form: digressions, misses and their escalation.

`Bot` (bot/runtime.py) mixes this in. A sticky domain's form judges every caller turn; after it:
- a turn it hands back (`elsewhere`, `bot.forms`) is offered to the router: another domain that
  answers it answers ("주차 돼?" -> the store domain, with the store already given), else the bot
  declines politely; either way the form's question follows. When the other domain opens a form of
  its own ("어느 매장이요?"), the first one waits and its question is asked again when that one ends;
- a turn that gave the form nothing (same question, no slot changed) is a miss: the second in a row
  adds the domain's `utter_retry_<slot>` (the keypad offer), the third hands the call to a person;
- a farewell that ended the form ends the call; `handoff` / `hangup` payloads act on the call.
No reply is said three times in a row (`_not_thrice`): the third time the call goes to a person.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot import routing
from bot.forms import ELSEWHERE, HANDOFF, HANGUP, FormState, is_miss, response_text
from bot.nlu.decision import decide, top_intent, with_intent
from bot.routing import Plan, Step
from callbot.events import BotAction, BotReply

if TYPE_CHECKING:
    from bot.agents import LoadedVersion
    from bot.session import DialogueSession

MAX_SAME_REPLY = 2  # a reply may be said twice in a row, not three times


class FormTurns:
    """Form turns for `bot.runtime.Bot` (uses its `_converse`, `_refuse`, `_repeat`, `_fixed`, ...)."""

    async def _form_turn(
        self: Any,
        models: LoadedVersion,
        session: DialogueSession,
        domain: str,
        message: str,
        parse: dict[str, Any] | None,
        intent: str | None,
        confidence: float,
    ) -> BotReply:
        recent = self._trackers[domain].recent
        before = FormState.of(recent.get(session.call_id))
        reply, found, said = await self._converse(models, session, domain, message, parse, intent, confidence)
        after = FormState.of(recent.get(session.call_id))
        common = routing.common_name(intent, self.routing)
        answered = False
        if ELSEWHERE in found:
            pending = " ".join(said)
            other = await self._digression(models, session, domain, message)
            if other is None:
                plan = Plan(Step.REFUSE, domain, intent, confidence)
                reply = await self._refuse(models, session, plan, pending)
            elif session.sticky_domain not in (None, domain):  # it asks a question of its own first
                session.suspended_domain, session.suspended_prompt = domain, pending
                reply, answered = other, True
            else:
                reply, answered = _joined(other, pending), True
        elif not reply.text:  # a form without rules for what is no answer: the usual answers
            reply = await self._form_fallback(models, session, domain, common, intent, confidence)
        elif before.loop is not None and after.loop is None and after.slots != before.slots:
            # The answer ended the form and asked for more: "아 그냥 잠실점 내일 6시 예약할래요" to the
            # store question of a parking question. The new request follows, with what it carried.
            more = await self._digression(models, session, domain, message, sure=True)
            if more is not None:  # the call goes on in the new request's domain
                reply, answered = replace(more, text=f"{reply.text} {more.text}", fixed=False), True
        if HANDOFF in found:
            reply = replace(reply, action=BotAction.HANDOFF)
        elif HANGUP in found or (
            common == routing.GOODBYE and after.loop is None and after.slots == before.slots
        ):
            reply = replace(reply, action=BotAction.HANGUP)
        if not answered:
            reply = self._count_miss(models, session, domain, before, after, reply)
        return await self._resume(models, session, reply)

    async def _digression(
        self: Any,
        models: LoadedVersion,
        session: DialogueSession,
        sticky: str,
        text: str,
        sure: bool = False,
    ) -> BotReply | None:
        """Another domain's answer to a turn the sticky form handed back, if one is sure of it (with
        `sure`, the router as sure of that domain as a misheard turn must be to be answered:
        `bot.confirm.accept_rescued`)."""
        if text.startswith("/"):
            return None
        router_parse = await models.router.parse_message(text)
        routed, _ = top_intent(router_parse)
        if routed in (None, sticky, self.routing.common_domain) or routed not in models.agents:
            return None
        parse = await models.agents[routed].parse_message(text)
        decision = decide(router_parse, parse, models.thresholds)
        if decision.rejected or routing.common_name(decision.intent, self.routing) is not None:
            return None
        if sure and decision.router_confidence < self.confirm.accept_rescued:
            return None
        if top_intent(parse)[0] != decision.intent:
            parse = with_intent(parse, decision.intent, decision.confidence)
        reply = await self._dialogue(
            models, session, routed, text, parse, decision.intent, decision.confidence
        )
        return reply if reply.text else None

    async def _form_fallback(
        self: Any,
        models: LoadedVersion,
        session: DialogueSession,
        domain: str,
        common: str | None,
        intent: str | None,
        confidence: float,
    ) -> BotReply:
        if common == routing.REPEAT:
            return self._repeat(session)
        if common == routing.GOODBYE:
            bye = await self._dialogue(
                models, session, self.routing.common_domain, f"/{intent}", None, intent, confidence
            )
            text = bye.text or self.routing.texts.goodbye
            return replace(bye, text=text, action=BotAction.HANGUP)
        if common == routing.OUT_OF_SCOPE_NAME:
            plan = Plan(Step.REFUSE, domain, intent, confidence)
            return await self._refuse(models, session, plan, session.form_prompt)
        return self._not_understood(models, session, intent, confidence)

    def _count_miss(
        self: Any,
        models: LoadedVersion,
        session: DialogueSession,
        domain: str,
        before: FormState,
        after: FormState,
        reply: BotReply,
    ) -> BotReply:
        """Count turns that gave the form's question nothing; escalate on the second and third."""
        if not is_miss(before, after):
            session.slot_misses, session.missed_slot = 0, None
            return reply
        same = session.missed_slot == after.requested
        session.slot_misses = session.slot_misses + 1 if same else 1
        session.missed_slot = after.requested
        if session.slot_misses >= self.routing.handoff_after_failures:
            texts = self.routing.texts
            return self._fixed(texts.handoff, domain, reply.intent, reply.confidence, BotAction.HANDOFF)
        if session.slot_misses == self.routing.keypad_after_failures:
            hint = response_text(models.agents[domain], f"utter_retry_{after.requested}")
            if hint:
                return _joined(reply, hint)
        return reply

    async def _resume(
        self: Any, models: LoadedVersion, session: DialogueSession, reply: BotReply
    ) -> BotReply:
        """After a digression's own form ended, the form it interrupted asks its question again, or
        takes the answer the caller already gave there ("어느 매장이요?" "강남점": the store)."""
        waiting, prompt = session.suspended_domain, session.suspended_prompt
        if session.sticky_domain is not None or waiting is None:
            return reply
        session.suspended_domain = session.suspended_prompt = None
        tracker = self._trackers[waiting].recent.get(session.call_id) if waiting in self._trackers else None
        if tracker is None or not tracker.active_loop_name:
            return reply
        self._update_sticky(models, session, waiting, tracker)
        session.form_prompt = prompt or session.form_prompt
        asked = tracker.get_slot("requested_slot")
        given = session.shared_slots.get(asked) if asked in self.routing.shared_slots else None
        if given is not None:
            answer = await self._form_turn(models, session, waiting, str(given), None, None, 1.0)
            return _joined(reply, answer.text)
        return _joined(reply, prompt) if prompt else reply

    def _not_thrice(self: Any, session: DialogueSession, reply: BotReply) -> BotReply:
        """The same reply a third time in a row (a loop the caller cannot leave) goes to a person."""
        if not reply.text:
            return reply
        asked = routing.common_name(reply.intent, self.routing) == routing.REPEAT
        last = session.last_reply
        session.same_replies = (
            session.same_replies + 1 if last and last.text == reply.text and not asked else 0
        )
        if session.same_replies >= MAX_SAME_REPLY:
            session.same_replies = 0
            texts = self.routing.texts
            return self._fixed(texts.handoff, reply.domain, reply.intent, reply.confidence, BotAction.HANDOFF)
        return reply


def _joined(reply: BotReply, more: str) -> BotReply:
    text = f"{reply.text} {more}".strip() if more else reply.text
    return replace(reply, text=text, fixed=False)
