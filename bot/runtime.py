"""The dialogue runtime: router + one Rasa Agent per domain, in-process, serving many calls at once.

`Bot` owns the loaded model version and the per-domain tracker stores; a `DialogueSession` carries one
call's routing state. A text turn: choose the parsing domain (sticky form domain, keypad pick, or the
router model), parse with that domain's model, accept/reject with `decide`, then let the domain's Agent
run the dialogue. The telephony layer and `callbot shell` drive the same `Bot.handle`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot import keypad, routing
from bot.actions import ActionContext
from bot.agents import (
    LoadedVersion,
    RasaThread,
    RuntimeSettings,
    default_thresholds,
    load_services,
    load_version,
    read_current,
    slot_values,
)
from bot.dialogue_state import DialogueState, StateSnapshot
from bot.form_turns import FormTurns
from bot.forms import payloads, share_slots
from bot.misheard import Candidate, ConfirmSettings, MisheardTurns, Reading
from bot.nlu.decision import Decision, Thresholds, decide, with_intent
from bot.routing import Escalation, Plan, RoutingSettings, Step
from bot.session import DialogueSession, PendingConfirm
from callbot.config import Config
from callbot.events import (
    BotAction,
    BotReply,
    Dtmf,
    KeypadPause,
    Silence,
    TurnOutcome,
    Understanding,
    UserText,
)

logger = logging.getLogger(__name__)

Event = UserText | Dtmf | Silence | KeypadPause
T = TypeVar("T")
RETIRE_AFTER_SECONDS = 30.0  # a replaced version's thread outlives any turn that started on it
# The caller's request behind each ending (`bot.confirm_end_below`): a goodbye hangs up, "상담원" hands off.
ENDING_REQUESTS = {BotAction.HANGUP: routing.GOODBYE, BotAction.HANDOFF: routing.AGENT}
# What the call log says a turn's plan came to (other steps: accepted).
PLAN_OUTCOMES = {Step.REFUSE: TurnOutcome.REFUSED, Step.NOT_UNDERSTOOD: TurnOutcome.NOT_UNDERSTOOD}
RANKING_LENGTH = 3  # intents kept with a turn for operators


class Bot(FormTurns, MisheardTurns):
    """Every domain's Rasa Agent, loaded once, answering the turns of many concurrent calls."""

    def __init__(
        self,
        settings: RuntimeSettings,
        routing_settings: RoutingSettings,
        endpoint: Any,
        default_thresholds: Thresholds,
        state: DialogueState | None = None,
        confirm: ConfirmSettings | None = None,
    ) -> None:
        self.settings = settings
        self.confirm = confirm or ConfirmSettings()
        self.default_thresholds = default_thresholds
        self.routing = routing_settings
        self.endpoint = endpoint
        self._retired: list[RasaThread] = []
        # Where calls' dialogue state lives (in-process, or also in Redis for several replicas).
        self.state = state or DialogueState()
        self._trackers = self.state.trackers  # domain -> tracker store, shared by every version
        self._locks = self.state.locks
        self._models: LoadedVersion | None = None
        self._reload_lock = asyncio.Lock()
        self.pinned: str | None = None  # a version to load instead of what models/current names

    @classmethod
    async def load(
        cls,
        config: Config,
        state: DialogueState | None = None,
        context: ActionContext | None = None,
        version: str | None = None,
    ) -> Bot:
        """Load the current model version and the sample's actions (Agent loading runs on a thread).

        `state`: shared dialogue state for several replicas (`callbot serve`); in-process by default.
        `context` replaces the action services built from the config (conversation tests).
        `version`: this version instead of `models/current` (the console's comparison of two versions).
        """
        settings = RuntimeSettings.from_config(config)
        routing_settings = RoutingSettings.from_config(config)
        endpoint = await load_services(config, settings, context)
        confirm = ConfirmSettings.from_config(config)
        bot = cls(settings, routing_settings, endpoint, default_thresholds(config), state, confirm)
        bot.pinned = version
        try:
            await bot.reload()
        except BaseException:
            bot.close()
            raise
        return bot

    # -- public API -------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return self._current.version

    @property
    def loaded(self) -> LoadedVersion:
        """The model version new turns run on (its Agents, thread and thresholds)."""
        return self._current

    @property
    def domains(self) -> list[str]:
        """Loaded domains in menu order (the `data.domains` order of the config)."""
        return list(self._current.agents)

    def new_session(self, call_id: str) -> DialogueSession:
        return DialogueSession(call_id=call_id)

    async def greet(self, session: DialogueSession) -> BotReply:
        """The opening line: the common domain's greeting response, else the configured greeting."""
        async with session.lock:
            models = self._current
            common = self.routing.common_domain
            greet = self.routing.common_intent("greet")
            if greet in models.intents.get(common, ()):
                reply = await models.rasa.run(
                    self._dialogue(models, session, common, f"/{greet}", None, greet, 1.0)
                )
                if reply.text:
                    return self._said(session, reply)
            return self._said(session, self._fixed(self.routing.texts.greeting, common, greet))

    async def handle(self, session: DialogueSession, event: Event) -> BotReply:
        """Answer one caller event. An empty reply text means there is nothing to say (a buffered digit)."""
        async with session.lock:
            session.turns += 1
            models = self._current
            try:
                pending, session.pending_end = session.pending_end, None
                asked, session.pending_confirm = session.pending_confirm, None
                if isinstance(event, Dtmf):
                    reply = await self._digit(models, session, event.digit)
                elif isinstance(event, KeypadPause):
                    reply = await self._keys_paused(models, session)
                elif isinstance(event, UserText) and event.text.strip():
                    turn = self._text_turn(
                        models, session, event.text.strip(), pending, asked, event.alternatives
                    )
                    reply = await models.rasa.run(turn)
                    if reply.understanding is not None:
                        reply = _with(reply, understanding=_with(reply.understanding, version=models.version))
                elif pending is not None:  # silence after "통화를 종료할까요?": asked again
                    session.pending_end = pending
                    prompt = self.routing.texts.still_there.format(prompt=self._end_question(pending))
                    reply = self._fixed(prompt, None, None)
                elif session.sticky_domain and session.form_prompt:  # silence while a form waits
                    prompt = self.routing.texts.still_there.format(prompt=session.form_prompt)
                    reply = BotReply(text=prompt, domain=session.sticky_domain)
                else:  # Silence, or recognized nothing
                    reply = self._not_understood(models, session, None, 0.0)
                reply = self._not_thrice(session, reply)
            except Exception:  # one broken turn hands this call to a person; other calls go on
                logger.exception("bot.turn.failed call=%s event=%r", session.call_id, event)
                reply = self._fixed(self.routing.texts.error, None, None, 0.0, BotAction.HANDOFF)
            logger.info(
                "bot.turn call=%s domain=%s intent=%s confidence=%.2f action=%s failures=%d",
                session.call_id,
                reply.domain,
                reply.intent,
                reply.confidence,
                reply.action.value,
                session.failures,
            )
            return self._said(session, reply) if reply.text else reply

    async def end_session(self, session: DialogueSession) -> None:
        """Forget the call's dialogue state in every domain's tracker store."""
        session.ended = True
        for store in self._trackers.values():
            store.forget(session.call_id)

    # -- calls that move between replicas (bot.dialogue_state) ------------------------------------

    def checkpoint(self, session: DialogueSession) -> StateSnapshot:
        """What Redis must hold for the call now; the telephony layer writes it with the call's progress."""
        return self.state.snapshot(session)

    async def resume_session(self, call_id: str) -> DialogueSession | None:
        """The dialogue of a call whose stream moved here (after a replica died or drained)."""
        return await self.state.resume(call_id)

    async def release_session(self, session: DialogueSession) -> None:
        """The call's stream left this replica but the call goes on: keep its state for a resume."""
        self.state.release(session)

    async def reload(self) -> str:
        """Load the version `models/current` points at (or the pinned one) and swap it in for new turns;
        returns it.

        Loading runs on the new version's own thread, so calls keep being answered meanwhile (their
        first turn after a load may be slower: TensorFlow re-traces graphs when other models load).
        """
        async with self._reload_lock:
            model_set = await asyncio.to_thread(read_current, self.settings.models_dir, self.pinned)
            if self._models is not None and model_set.version == self._models.version:
                return model_set.version
            rasa = RasaThread(f"callbot-rasa-{model_set.version}")
            try:
                loaded = await rasa.run(
                    load_version(
                        rasa,
                        model_set,
                        self.endpoint,
                        self._trackers,
                        self._locks,
                        self.default_thresholds,
                        self.settings.domain_order,
                    )
                )
            except BaseException:
                rasa.close()
                raise
            old, self._models = self._models, loaded
            if old is not None:  # turns that started on the old version finish there first
                self._retired.append(old.rasa)
                asyncio.get_running_loop().call_later(RETIRE_AFTER_SECONDS, self._retire, old.rasa)
            logger.info("bot.runtime.version version=%s domains=%s", loaded.version, ",".join(loaded.agents))
            return loaded.version

    def _retire(self, rasa: RasaThread) -> None:
        if rasa in self._retired:
            self._retired.remove(rasa)
            rasa.close()

    def close(self) -> None:
        """Stop the Rasa threads; the Bot is unusable afterwards."""
        for rasa in [*self._retired, *([self._models.rasa] if self._models else [])]:
            rasa.close()
        self._retired.clear()

    # -- turns ------------------------------------------------------------------------------------

    @property
    def _current(self) -> LoadedVersion:
        if self._models is None:
            raise RuntimeError("Bot used before a model version was loaded")
        return self._models

    # `_text` and `_dialogue` run on the version's Rasa thread, whole: one hop per turn, not one per
    # Rasa call (each hop is a thread wake-up and GIL hand-over, ~1-5 ms on a busy machine). The
    # session lock, held on the server's loop, keeps one call's turns one at a time.

    async def _text_turn(
        self,
        models: LoadedVersion,
        session: DialogueSession,
        text: str,
        pending: BotReply | None,
        asked: PendingConfirm | None = None,
        alternatives: tuple[tuple[str, float], ...] = (),
    ) -> BotReply:
        """A text turn: the answer to a pending "통화를 종료할까요?" or "할인 문의 맞으세요?", else `_text`,
        whose ending (a goodbye, a request for a person) is asked about first when it was not
        understood surely."""
        if pending is not None:
            answer = await self._ending_answer(models, session, text, pending)
            if answer is not None:
                return answer
        if asked is not None:
            answer = await self._confirm_answer(models, session, text, asked)
            if answer is not None:
                return answer
        return self._confirm_end(session, await self._text(models, session, text, alternatives))

    async def _ending_answer(
        self, models: LoadedVersion, session: DialogueSession, text: str, pending: BotReply
    ) -> BotReply | None:
        """The reply to `text` said to a held-back ending: the ending on yes (or on the same request
        again), the carry-on text on no, the question again on "다시요"; None for anything else (the
        caller went on: an ordinary turn). Read with the router and the common domain's model only, so
        no domain's dialogue hears the yes or no."""
        said, decision = await self._common_said(models, text)
        again = ENDING_REQUESTS.get(pending.action)
        understood = Understanding(
            TurnOutcome.ACCEPTED,
            decision.domain,
            decision.router_confidence,
            ((decision.intent or "", decision.confidence),),
        )
        if said in (routing.AFFIRM, again):
            return _with(pending, understanding=understood)
        if said == routing.DENY:
            texts = self.routing.texts
            prompt = session.form_prompt if session.sticky_domain else None
            text = f"{texts.carry_on} {prompt}" if prompt else texts.carry_on
            carry_on = self._fixed(text, self.routing.common_domain, decision.intent, decision.confidence)
            return _with(carry_on, understanding=understood)
        if said == routing.REPEAT:
            session.pending_end = pending
            return self._repeat(session)
        return None

    def _confirm_end(self, session: DialogueSession, reply: BotReply) -> BotReply:
        """Hold back a goodbye or handoff the caller asked for with confidence below
        `bot.confirm_end_below`, and ask first ("통화를 종료할까요?")."""
        asked = ENDING_REQUESTS.get(reply.action)
        said = routing.common_name(reply.intent, self.routing)
        if asked is None or said != asked or reply.confidence >= self.routing.confirm_end_below:
            return reply
        session.pending_end = reply
        understood = reply.understanding or Understanding(TurnOutcome.ENDING_ASKED)
        session.answer_domain = None  # the yes or no answers this question, not a domain's
        text = self._end_question(reply)
        logger.debug(
            "bot.confirm_end call=%s action=%s confidence=%.2f",
            session.call_id,
            reply.action,
            reply.confidence,
        )
        asking = self._fixed(text, self.routing.common_domain, reply.intent, reply.confidence)
        return _with(asking, understanding=_with(understood, outcome=TurnOutcome.ENDING_ASKED))

    def _end_question(self, ending: BotReply) -> str:
        texts = self.routing.texts
        return texts.confirm_goodbye if ending.action is BotAction.HANGUP else texts.confirm_handoff

    async def _common_said(self, models: LoadedVersion, text: str) -> tuple[str | None, Decision]:
        """What `text` says as a common intent ("affirm", "greet", ...) when the router sends it to the
        common domain and that model is sure; else None. No domain's dialogue hears it."""
        decision = decide(*await self._route(models, text), models.thresholds)
        if decision.rejected or decision.domain != self.routing.common_domain:
            return None, decision
        return routing.common_name(decision.intent, self.routing), decision

    async def _text(
        self,
        models: LoadedVersion,
        session: DialogueSession,
        text: str,
        alternatives: tuple[tuple[str, float], ...] = (),
    ) -> BotReply:
        heard = text
        target = routing.parse_domain(session.sticky_domain, session.focus_domain)
        target = target if target in models.agents else None
        session.focus_domain = None
        asked = session.answer_domain if session.answer_domain in models.agents else None
        own = await self._own_answer(models, asked, text) if target is None and asked else None
        if own is not None:  # "그거 취소해 줘" after "변경이나 취소가 필요하시면 말씀해 주세요"
            target, router_parse, domain_parse = asked, None, own
        elif target is not None:
            router_parse = None
            domain_parse = await models.agents[target].parse_message(text)
        else:
            router_parse, domain_parse = await self._route(models, text)
            greeted = await self._after_greeting(models, text, router_parse, domain_parse)
            if greeted is not None:
                text, router_parse, domain_parse = greeted
        decision = decide(router_parse, domain_parse, models.thresholds, domain=target)
        asking: list[Candidate] = []
        parsed = text  # the text the decision was read from
        unsure = decision.rejected or decision.confidence < self.confirm.accept_rescued
        if unsure and target is None:  # refused or unsure: read again, or ask about it
            base = Reading(text, router_parse, domain_parse, decision)
            rescued, asking = await self._rescue(models, base, alternatives)
            if rescued is not None and rescued.decision.domain == decision.domain and domain_parse:
                # the same domain: its decision, but the words as heard fill the slots (a name one
                # jamo from a business word stays the caller's name)
                parsed, decision = rescued.text, rescued.decision
            elif rescued is not None:
                text, router_parse, domain_parse, decision = (
                    rescued.text,
                    rescued.router_parse,
                    rescued.domain_parse,
                    rescued.decision,
                )
        if domain_parse is not None and decision.intent and not decision.rejected:
            if (domain_parse.get("intent") or {}).get("name") != decision.intent:
                domain_parse = with_intent(domain_parse, decision.intent, decision.confidence)
        read = Understanding(
            TurnOutcome.ACCEPTED,
            decision.domain if router_parse is not None else None,
            decision.router_confidence,
            _ranking(domain_parse),
            parsed if parsed != heard else (text if text != heard else ""),
        )
        if asking:
            return self._ask(models, session, asking, read)
        sticky = session.sticky_domain if session.sticky_domain in models.agents else None
        if sticky is not None and target == sticky:
            plan = routing.plan_text(decision, sticky, self.routing)
            if plan.step is Step.HANDOFF:
                handoff = self._fixed(
                    self.routing.texts.handoff, sticky, plan.intent, plan.confidence, BotAction.HANDOFF
                )
                return _with(handoff, understanding=read)
            intent = plan.intent
            if decision.rejected and domain_parse is not None:  # no intent of its own: the form judges
                unknown = self.routing.common_intent(routing.OUT_OF_SCOPE_NAME)
                if unknown in models.intents[sticky]:
                    domain_parse = with_intent(domain_parse, unknown, decision.confidence)
                    intent = unknown
            reply = await self._form_turn(
                models, session, sticky, text, domain_parse, intent, plan.confidence
            )
            return _with(reply, understanding=_with(read, outcome=TurnOutcome.FORM))
        answer = session.answer_domain if session.answer_domain in models.agents else None
        if (
            sticky is None
            and answer
            and routing.common_name(decision.intent, self.routing)
            in (
                routing.AFFIRM,
                routing.DENY,
            )
        ):
            sticky = answer  # "네" to "예약해 드릴까요?" goes back to the domain that asked
        plan = routing.plan_text(decision, sticky, self.routing)
        logger.debug("bot.route call=%s plan=%s reason=%s", session.call_id, plan, decision.reason)
        reply = await self._run_plan(models, session, plan, text, domain_parse)
        return _with(reply, understanding=_with(read, outcome=PLAN_OUTCOMES.get(plan.step, read.outcome)))

    async def _route(self, models: LoadedVersion, text: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The router's parse, and the parse of the domain it routes to when it is sure enough."""
        router_parse = await models.router.parse_message(text)
        routed = (router_parse.get("intent") or {}).get("name")
        confident = (router_parse.get("intent") or {}).get("confidence", 0) >= models.thresholds.router
        agent = models.agents.get(routed) if confident else None
        return router_parse, await agent.parse_message(text) if agent else None

    async def _after_greeting(
        self,
        models: LoadedVersion,
        text: str,
        router_parse: dict[str, Any],
        domain_parse: dict[str, Any] | None,
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
        """Callers open with a greeting: "안녕하세요 예약 좀 하려고 하는데요", "여보세요 안녕하세요 배달
        되나요". The greeting pulls such a turn to a greeting back, or to a refusal. When the turn was
        understood as no more than that (a greeting, out of scope, unsure) and its first words (one or
        two) are each a greeting by themselves, the rest of the turn is parsed alone: a request of a
        business domain there is the turn (the rest, its parses). Else None."""
        decision = decide(router_parse, domain_parse, models.thresholds)
        said = routing.common_name(decision.intent, self.routing)
        if not decision.rejected and said not in (routing.GREET, routing.OUT_OF_SCOPE_NAME):
            return None
        words = text.split()
        for n in (1, 2):
            if len(words) <= n or not await self._is_greeting(models, words[n - 1]):
                return None
            rest = " ".join(words[n:])
            rest_router, rest_domain = await self._route(models, rest)
            found = decide(rest_router, rest_domain, models.thresholds)
            if not found.rejected and routing.common_name(found.intent, self.routing) is None:
                logger.debug("bot.after_greeting text=%r rest=%r intent=%s", text, rest, found.intent)
                return rest, rest_router, rest_domain
        return None

    async def _is_greeting(self, models: LoadedVersion, word: str) -> bool:
        """True when the common domain's model, asked through the router, is sure `word` is a greeting."""
        said, _ = await self._common_said(models, word)
        return said == routing.GREET

    async def _own_answer(self, models: LoadedVersion, domain: str, text: str) -> dict[str, Any] | None:
        """The parse of the domain that just asked the caller something, when it is sure the answer
        is one of its own requests (not a common intent); else None and the router decides."""
        parse = await models.agents[domain].parse_message(text)
        decision = decide(None, parse, models.thresholds, domain=domain)
        if decision.rejected or routing.common_name(decision.intent, self.routing) is not None:
            return None
        return parse

    async def _run_plan(
        self,
        models: LoadedVersion,
        session: DialogueSession,
        plan: Plan,
        text: str,
        parse: dict[str, Any] | None,
    ) -> BotReply:
        texts = self.routing.texts
        if plan.step is Step.NOT_UNDERSTOOD:
            return self._not_understood(models, session, plan.intent, plan.confidence)
        if plan.step is Step.HANDOFF:
            return self._fixed(texts.handoff, plan.domain, plan.intent, plan.confidence, BotAction.HANDOFF)
        if plan.step is Step.REPEAT:
            return self._repeat(session)
        if plan.step is Step.REFUSE:
            return await self._refuse(models, session, plan)
        domain = plan.domain or self.routing.common_domain
        reply = await self._dialogue(models, session, domain, text, parse, plan.intent, plan.confidence)
        if not reply.text:  # the domain's policies had nothing to say to this
            return self._not_understood(models, session, plan.intent, plan.confidence)
        if routing.common_name(plan.intent, self.routing) == routing.GOODBYE:
            return _with(reply, action=BotAction.HANGUP)
        return reply

    async def _refuse(
        self, models: LoadedVersion, session: DialogueSession, plan: Plan, prompt: str | None = None
    ) -> BotReply:
        """The common domain's out-of-scope answer (else the configured refusal), then `prompt` (the
        question a form still waits for) when given."""
        common, intent = self.routing.common_domain, self.routing.common_intent("out_of_scope")
        reply = self._fixed(self.routing.texts.refusal, common, plan.intent, plan.confidence)
        if intent in models.intents.get(common, ()):
            said = await self._dialogue(models, session, common, f"/{intent}", None, intent, plan.confidence)
            reply = said if said.text else reply
        if prompt:
            reply = _with(reply, text=f"{reply.text} {prompt}", fixed=False)
        return reply

    async def _dialogue(
        self,
        models: LoadedVersion,
        session: DialogueSession,
        domain: str,
        message: str,
        parse: dict[str, Any] | None,
        intent: str | None,
        confidence: float,
    ) -> BotReply:
        """Let `domain`'s Agent handle the message (with its parse, when that came from this domain)."""
        reply, _, _ = await self._converse(models, session, domain, message, parse, intent, confidence)
        return reply

    async def _converse(
        self,
        models: LoadedVersion,
        session: DialogueSession,
        domain: str,
        message: str,
        parse: dict[str, Any] | None,
        intent: str | None,
        confidence: float,
    ) -> tuple[BotReply, set[str], list[str]]:
        """`_dialogue`, also returning the turn's custom payloads (`bot.forms`) and its messages."""
        agent = models.agents[domain]
        if parse is not None and not _parsed_by(parse, models.intents[domain]):
            parse = None
        recent = self._trackers[domain].recent
        if self.routing.shared_slots:
            await share_slots(agent, recent, session.call_id, session.shared_slots, self.routing.shared_slots)
        channel = CollectingOutputChannel()
        message_in = UserMessage(message, channel, sender_id=session.call_id, parse_data=parse)
        messages = await agent.handle_message(message_in) or []
        tracker = recent.get(session.call_id)
        session.domains_used.add(domain)
        self._update_sticky(models, session, domain, tracker)
        values = slot_values(tracker)
        session.shared_slots.update({n: values[n] for n in self.routing.shared_slots if n in values})
        said = [m["text"] for m in messages if m.get("text")]
        fixed = models.is_fixed(domain, said)
        own_question = said and domain != self.routing.common_domain and not fixed
        session.answer_domain = domain if own_question else None
        if said:  # understood: the escalation ladder starts over
            session.failures, session.keypad_menu = 0, False
            if session.sticky_domain == domain:
                session.form_prompt = said[-1]  # the form's question comes last
        if intent is None and tracker is not None:
            intent, confidence = _last_intent(tracker)
        reply = BotReply(
            text=" ".join(said),
            domain=domain,
            intent=intent,
            confidence=confidence,
            slots=values,
            fixed=fixed,
        )
        return reply, payloads(messages), said

    def _update_sticky(
        self, models: LoadedVersion, session: DialogueSession, domain: str, tracker: Any
    ) -> None:
        loop = tracker.active_loop_name if tracker is not None else None
        if loop:
            session.sticky_domain = domain
            slot = tracker.get_slot("requested_slot")
            session.requested_slot = slot
            numeric = models.number_slots.get(domain, frozenset()) | set(self.routing.number_slots)
            session.numeric_slot = slot in numeric
        elif session.sticky_domain == domain:
            session.sticky_domain = None
            session.requested_slot = None
            session.numeric_slot = False
            session.digits = ""

    async def _digit(self, models: LoadedVersion, session: DialogueSession, digit: str) -> BotReply:
        sticky = session.sticky_domain if session.sticky_domain in models.agents else None
        menu = routing.menu_domains(list(models.agents), self.routing)
        result = keypad.route_digit(
            digit,
            buffer=session.digits,
            menu_offered=session.keypad_menu,
            sticky_domain=sticky,
            numeric_slot=session.numeric_slot,
            menu=menu,
            zero_first=session.requested_slot in self.routing.zero_first_slots,
        )
        session.digits = result.buffer
        step, texts = result.step, self.routing.texts
        if step is keypad.KeyStep.HANDOFF:
            return self._fixed(texts.handoff, None, "dtmf_0", 1.0, BotAction.HANDOFF)
        if step is keypad.KeyStep.REPEAT:
            return self._repeat(session)
        if step is keypad.KeyStep.MENU:
            session.keypad_menu = True
            return self._fixed(routing.keypad_text(menu, self.routing), None, None, 1.0)
        if step is keypad.KeyStep.PICK and result.domain:
            session.focus_domain, session.keypad_menu, session.failures = result.domain, False, 0
            label = self.routing.label(result.domain)
            return self._fixed(texts.keypad_pick.format(label=label), result.domain, None, 1.0)
        if step in (keypad.KeyStep.AFFIRM, keypad.KeyStep.DENY) and sticky:
            intent = self.routing.common_intent(step.value)
            turn = self._form_turn(models, session, sticky, f"/{intent}", None, intent, 1.0)
            return await models.rasa.run(turn)
        if step is keypad.KeyStep.NUMBER and result.number:
            if sticky is None:
                return await models.rasa.run(self._text(models, session, result.number))
            message = keypad.number_message(
                result.number, session.requested_slot, models.intents[sticky], sticky
            )
            return await models.rasa.run(self._form_turn(models, session, sticky, message, None, None, 1.0))
        return BotReply(text="")  # a buffered digit or a key with no meaning here: say nothing

    async def _keys_paused(self, models: LoadedVersion, session: DialogueSession) -> BotReply:
        """Digits keyed without `#`, then a pause: the number is complete (a lone 0 stays a key)."""
        if not session.digits or session.digits == "0":
            return BotReply(text="")
        return await self._digit(models, session, "#")

    # -- fixed replies ----------------------------------------------------------------------------

    def _not_understood(
        self, models: LoadedVersion, session: DialogueSession, intent: str | None, confidence: float
    ) -> BotReply:
        session.failures += 1
        level = routing.escalate(session.failures, self.routing)
        texts = self.routing.texts
        if level is Escalation.HANDOFF:
            return self._fixed(texts.handoff, None, intent, confidence, BotAction.HANDOFF)
        if level is Escalation.KEYPAD:
            session.keypad_menu = True
            menu = routing.menu_domains(list(models.agents), self.routing)
            return self._fixed(routing.keypad_text(menu, self.routing), None, intent, confidence)
        if level is Escalation.CLARIFY:
            return self._fixed(
                routing.clarify_text(list(models.agents), self.routing), None, intent, confidence
            )
        return self._fixed(texts.reprompt, None, intent, confidence)

    def _repeat(self, session: DialogueSession) -> BotReply:
        last = session.last_reply
        repeat = self.routing.common_intent(routing.REPEAT)
        if last is None:
            return self._fixed(self.routing.texts.nothing_to_repeat, None, repeat, 1.0)
        return _with(last, action=BotAction.NONE, intent=repeat, confidence=1.0)

    @staticmethod
    def _fixed(
        text: str,
        domain: str | None,
        intent: str | None,
        confidence: float = 0.0,
        action: BotAction = BotAction.NONE,
    ) -> BotReply:
        return BotReply(
            text=text, domain=domain, intent=intent, confidence=confidence, action=action, fixed=True
        )

    @staticmethod
    def _said(session: DialogueSession, reply: BotReply) -> BotReply:
        """Remember what the caller last heard (for `repeat` and for re-asking after a refusal)."""
        if not reply.text:
            return reply
        session.last_reply = reply
        return reply


def _last_intent(tracker: Any) -> tuple[str | None, float]:
    from rasa.shared.core.events import UserUttered

    # not `get_last_event_for`: it skips the user turns a form consumed
    event = next((e for e in reversed(tracker.events) if isinstance(e, UserUttered)), None)
    intent = event.intent if event is not None else {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def _ranking(parse: dict[str, Any] | None) -> tuple[tuple[str, float], ...]:
    """The parse's top intents with confidences, for the call log."""
    ranking = (parse or {}).get("intent_ranking") or []
    return tuple(
        (str(i.get("name")), round(float(i.get("confidence") or 0.0), 4))
        for i in ranking[:RANKING_LENGTH]
        if i.get("name")
    )


def _parsed_by(parse: dict[str, Any], intents: frozenset[str]) -> bool:
    """True when the parse's intent belongs to the domain (then the Agent need not parse again)."""
    return (parse.get("intent") or {}).get("name") in intents


def _with(reply: T, **changes: Any) -> T:
    from dataclasses import replace

    return replace(reply, **changes)
