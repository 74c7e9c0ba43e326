"""Custom actions of the bundled restaurant sample (reservations and store answers).

The runtime imports this package from `bot.actions_dir` and calls `create_actions(context)`; every
action receives the context (reservation store, store directory, config, clock) in its constructor and
keeps no global state.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action

from .common import Clock, seoul_now
from .manage import (
    ActionAskCancelConfirmed,
    ActionAskChangeConfirmed,
    ActionCancelReservation,
    ActionChangeReservation,
    ActionTellReservation,
    ValidateCancelForm,
    ValidateChangeForm,
    ValidateCheckForm,
)
from .reservation import (
    ActionAskConfirmed,
    ActionAskTime,
    ActionStopReservation,
    ActionSubmitReservation,
    ValidateReservationForm,
)
from .store import ActionAskStore, ActionStoreAnswer, ValidateStoreForm

__all__ = ["create_actions"]


def create_actions(context: Any, clock: Clock | None = None) -> list[Action]:
    """Every action of the sample, bound to `context` (a `bot.actions.ActionContext`).

    `clock` returns the current time in Asia/Seoul: the argument, else the context's (conversation
    tests set the day of their file), else the real clock.
    """
    clock = clock or getattr(context, "clock", None) or seoul_now
    missing = [name for name in ("reservations", "stores") if getattr(context, name, None) is None]
    if missing:
        raise ValueError(
            f"the restaurant actions need {' and '.join(missing)} in the action context "
            "(set bot.stores_file to the sample's stores.csv)"
        )
    timed = [
        ValidateReservationForm, ActionAskConfirmed, ActionSubmitReservation,
        ValidateChangeForm, ValidateCancelForm, ValidateCheckForm, ActionAskChangeConfirmed,
        ActionAskCancelConfirmed, ActionChangeReservation, ActionCancelReservation, ActionTellReservation,
    ]  # fmt: skip
    return [
        *(cls(context, clock) for cls in timed),
        ActionAskTime(),
        ActionStopReservation(),
        ValidateStoreForm(context),
        ActionAskStore(context),
        ActionStoreAnswer(context),
    ]
