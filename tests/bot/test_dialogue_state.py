"""A call's dialogue state saved and picked up again (real tiny Rasa models): what a replica taking the
call over reads is the state whose reply the caller last heard, trackers and routing state alike."""

from __future__ import annotations

import asyncio

import pytest

from bot.dialogue_state import StateSnapshot
from tests.bot.test_runtime import talk, tiny  # noqa: F401 - the module's trained tiny bot

pytestmark = pytest.mark.slow


def _store(bot, snapshot: StateSnapshot) -> None:  # noqa: ANN001
    """Write a snapshot the way the telephony layer does (one transaction)."""
    pipe = bot.state.link.client.pipeline(transaction=True)
    for key, (value, ttl) in snapshot.writes.items():
        pipe.set(key, value, ex=ttl)
    if snapshot.deletes:
        pipe.delete(*snapshot.deletes)
    pipe.execute()
    snapshot.stored()


def test_a_moved_call_continues_its_form_from_the_saved_state(tiny) -> None:  # noqa: ANN001, F811
    bot, _ = tiny
    session = bot.new_session("call-moved")
    (ask,) = talk(bot, session, "예약하고 싶어요")
    assert ask.text == "몇 분이 오시나요?"
    _store(bot, bot.checkpoint(session))  # the caller started hearing the question
    # A later turn whose reply the caller never heard (the stream dropped): not saved.
    talk(bot, session, "4명이요")
    asyncio.run(bot.release_session(session))
    assert all("call-moved" not in store.store for store in bot.state.trackers.values())
    resumed = asyncio.run(bot.resume_session("call-moved"))
    assert resumed is not None and resumed is not session
    assert (resumed.sticky_domain, resumed.requested_slot) == ("reservation", "party_size")
    assert resumed.last_reply is not None and resumed.last_reply.text == "몇 분이 오시나요?"
    (confirm,) = talk(bot, resumed, "5명이요")  # the form goes on where the caller heard it
    assert confirm.text == "5명으로 예약할까요?" and confirm.slots == {"party_size": "5"}
    snapshot = bot.checkpoint(resumed)
    assert list(snapshot.writes) == ["callbot:session:call-moved", "callbot:tracker:reservation:call-moved"]
    _store(bot, snapshot)
    assert bot.checkpoint(resumed).writes.keys() == {"callbot:session:call-moved"}  # nothing new in Rasa
    asyncio.run(bot.end_session(resumed))
    _store(bot, bot.checkpoint(resumed))  # ended: its keys are deleted
    assert asyncio.run(bot.resume_session("call-moved")) is None


def test_nothing_saved_means_nothing_to_resume(tiny) -> None:  # noqa: ANN001, F811
    bot, _ = tiny
    assert asyncio.run(bot.resume_session("call-never-saved")) is None
