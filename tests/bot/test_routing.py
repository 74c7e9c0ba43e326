"""Routing and keypad rules of the dialogue runtime, as pure functions (no Rasa)."""

from __future__ import annotations

import pytest

from bot.keypad import KeyStep, number_message, route_digit
from bot.nlu.decision import Thresholds, decide
from bot.routing import (
    Escalation,
    RoutingSettings,
    Step,
    Texts,
    clarify_text,
    escalate,
    keypad_text,
    menu_domains,
    parse_domain,
    plan_text,
)
from callbot.config import Config, ConfigError

SETTINGS = RoutingSettings(clarify_after=1, keypad_after_failures=2, handoff_after_failures=3)
THRESHOLDS = Thresholds(router=0.5, domain_default=0.5, out_of_scope_intents=("out_of_scope",))
DOMAINS = ["reservation", "store", "menu", "delivery", "common"]


def parse(intent: str, confidence: float) -> dict:
    return {"intent": {"name": intent, "confidence": confidence}, "entities": []}


def routed(domain: str, router_conf: float, intent: str, conf: float, sticky: str | None = None):
    """Plan a turn the way the runtime does: sticky turns skip the router."""
    if sticky:
        decision = decide(None, parse(intent, conf), THRESHOLDS, domain=sticky)
    else:
        decision = decide(parse(domain, router_conf), parse(intent, conf), THRESHOLDS)
    return plan_text(decision, sticky, SETTINGS)


def test_a_confident_domain_question_goes_to_that_domain():
    plan = routed("store", 0.9, "store_hours", 0.95)
    assert (plan.step, plan.domain, plan.intent) == (Step.DIALOGUE, "store", "store_hours")


@pytest.mark.parametrize("text_intent", ["common_affirm", "reservation_inform", "reservation_book"])
def test_inside_a_form_the_domain_is_sticky(text_intent):
    plan = routed("", 0, text_intent, 0.9, sticky="reservation")
    assert (plan.step, plan.domain) == (Step.DIALOGUE, "reservation")


def test_inside_a_form_low_confidence_text_still_goes_to_the_form():
    # "7시요" may parse with low confidence; the form's slot mappings judge the value
    plan = routed("", 0, "reservation_inform", 0.2, sticky="reservation")
    assert (plan.step, plan.domain) == (Step.DIALOGUE, "reservation")


def test_sticky_domain_is_chosen_before_the_router_and_keypad_pick():
    assert parse_domain("reservation", "store") == "reservation"
    assert parse_domain(None, "store") == "store"
    assert parse_domain(None, None) is None


@pytest.mark.parametrize("sticky", [None, "reservation"])
def test_a_person_is_asked_for_in_every_state(sticky):
    assert routed("common", 0.9, "common_agent", 0.9, sticky=sticky).step is Step.HANDOFF


def test_repeat_and_goodbye_outside_a_form_are_the_runtime_and_common_domain_answers():
    assert routed("common", 0.9, "common_repeat", 0.9).step is Step.REPEAT
    plan = routed("common", 0.9, "common_goodbye", 0.9)
    assert (plan.step, plan.domain) == (Step.COMMON, "common")


@pytest.mark.parametrize("intent", ["common_repeat", "common_goodbye", "common_out_of_scope"])
def test_inside_a_form_even_repeat_goodbye_and_out_of_scope_go_to_the_form(intent):
    # "처음부터 다시" reads as repeat, "잘 모르겠어" as goodbye, "김철수" as out of scope: the form
    # judges the words first; what is no answer its rules (or the runtime's fallbacks) answer.
    plan = routed("", 0, intent, 0.95, sticky="reservation")
    assert (plan.step, plan.domain) == (Step.DIALOGUE, "reservation")


def test_common_intents_outside_a_form_go_to_the_common_domain():
    assert routed("common", 0.9, "common_greet", 0.9).step is Step.COMMON
    # the router said reservation, but the reservation model recognized a plain "네"
    plan = routed("reservation", 0.8, "common_affirm", 0.9)
    assert (plan.step, plan.domain) == (Step.COMMON, "common")


@pytest.mark.parametrize("router_conf,conf", [(0.3, 0.99), (0.9, 0.2)])
def test_low_confidence_at_either_layer_is_not_understood(router_conf, conf):
    assert routed("store", router_conf, "store_hours", conf).step is Step.NOT_UNDERSTOOD


def test_out_of_scope_outside_a_form_is_refused_never_answered():
    plan = routed("common", 0.9, "common_out_of_scope", 0.99)
    assert plan.step is Step.REFUSE


def test_failures_escalate_clarify_then_keypad_then_handoff():
    assert [escalate(n, SETTINGS) for n in (1, 2, 3, 4)] == [
        Escalation.CLARIFY,
        Escalation.KEYPAD,
        Escalation.HANDOFF,
        Escalation.HANDOFF,
    ]
    later = RoutingSettings(clarify_after=2, keypad_after_failures=3, handoff_after_failures=5)
    assert [escalate(n, later) for n in (1, 2, 3, 4, 5)] == [
        Escalation.REPROMPT,
        Escalation.CLARIFY,
        Escalation.KEYPAD,
        Escalation.KEYPAD,
        Escalation.HANDOFF,
    ]


def test_clarify_and_keypad_texts_come_from_domain_labels():
    assert clarify_text(DOMAINS, SETTINGS) == (
        "죄송합니다, 잘 이해하지 못했어요. 예약, 매장 안내, 메뉴, 배달 중 어떤 걸 도와드릴까요?"
    )
    text = keypad_text(DOMAINS, SETTINGS)
    assert "예약은 1번, 매장 안내는 2번, 메뉴는 3번, 배달은 4번" in text
    assert "0번" in text
    custom = RoutingSettings(labels={"store": "지점"}, texts=Texts(clarify="{domains}?"))
    assert clarify_text(["store", "common"], custom) == "지점?"


def key(digit, buffer="", menu_offered=False, sticky=None, numeric=False, zero_first=False):
    menu = menu_domains(DOMAINS, SETTINGS)
    return route_digit(
        digit, buffer=buffer, menu_offered=menu_offered, sticky_domain=sticky, numeric_slot=numeric, menu=menu,
        zero_first=zero_first,
    )  # fmt: skip


@pytest.mark.parametrize("state", [{}, {"menu_offered": True}, {"sticky": "reservation"}])
def test_zero_is_handoff_anywhere(state):
    assert key("0", **state).step is KeyStep.HANDOFF


def test_a_phone_number_starts_with_zero_and_zero_hash_is_the_person():
    first = key("0", sticky="reservation", numeric=True, zero_first=True)  # 010...: a phone number
    assert (first.step, first.buffer) == (KeyStep.BUFFER, "0")
    assert key("1", buffer="0", sticky="reservation", numeric=True).buffer == "01"
    assert key("#", buffer="0", sticky="reservation", numeric=True).step is KeyStep.HANDOFF
    # other numbers (a date as MMDD, a count) never start with 0: there 0 is the person
    assert key("0", sticky="reservation", numeric=True).step is KeyStep.HANDOFF


def test_after_the_menu_digits_pick_domains_in_order():
    assert (key("1", menu_offered=True).step, key("1", menu_offered=True).domain) == (
        KeyStep.PICK,
        "reservation",
    )
    assert key("4", menu_offered=True).domain == "delivery"
    assert key("9", menu_offered=True).step is KeyStep.MENU  # no 9th domain: offer the menu again
    assert key("2").step is KeyStep.MENU  # menu not offered yet: offer it


def test_inside_a_form_one_and_two_are_yes_and_no():
    assert key("1", sticky="reservation").step is KeyStep.AFFIRM
    assert key("2", sticky="reservation").step is KeyStep.DENY


def test_a_number_is_keyed_then_hash():
    first = key("1", sticky="reservation", numeric=True)
    assert (first.step, first.buffer) == (KeyStep.BUFFER, "1")
    second = key("0", buffer=first.buffer, sticky="reservation", numeric=True)  # 0 inside a number
    assert (second.step, second.buffer) == (KeyStep.BUFFER, "10")
    done = key("#", buffer=second.buffer, sticky="reservation", numeric=True)
    assert (done.step, done.number, done.buffer) == (KeyStep.NUMBER, "10", "")
    assert key("#").step is KeyStep.IGNORE
    assert key("*", buffer="12").step is KeyStep.REPEAT and key("*", buffer="12").buffer == ""


def test_number_message_uses_the_inform_intent_and_requested_slot():
    intents = ["reservation_inform", "common_affirm"]
    assert (
        number_message("04", "party_size", intents, "reservation") == '/reservation_inform{"party_size": 4}'
    )
    assert number_message("4", None, intents, "reservation") == "4"
    assert number_message("4", "party_size", ["common_affirm"], "reservation") == "4"


def test_settings_from_config_reports_every_bad_key(tmp_path):
    config = Config(
        path=tmp_path / "callbot.yml",
        raw={
            "bot": {
                "keypad_after_failures": 0,
                "domain_labels": {"store": ""},
                "texts": {"nope": "x"},
                "confirm_end_below": 1.5,
            }
        },
    )
    with pytest.raises(ConfigError) as info:
        RoutingSettings.from_config(config)
    message = str(info.value)
    assert "bot.keypad_after_failures" in message
    assert "bot.domain_labels.store" in message
    assert "bot.texts.nope" in message
    assert "bot.confirm_end_below" in message
    ok = Config(
        path=tmp_path / "callbot.yml",
        raw={"bot": {"domain_labels": {"store": "지점 안내"}}, "data": {"common_domain": "basic"}},
    )
    settings = RoutingSettings.from_config(ok)
    assert settings.label("store") == "지점 안내" and settings.label("reservation") == "예약"
    assert settings.common_intent("affirm") == "basic_affirm"
    assert settings.confirm_end_below == 0.8  # an unsure goodbye is asked about by default
