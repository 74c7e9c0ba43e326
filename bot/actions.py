"""Custom Rasa actions run in-process: rasa-sdk's `ActionExecutor` behind an action endpoint.

Rasa 3.6 runs custom actions (`RemoteAction`) only by POSTing the tracker to an action server. Here
`InProcessActionEndpoint.request` hands that same JSON to an `ActionExecutor` in this process and
returns its response, so there is no HTTP server to run. Actions come from a sample's actions folder:
a Python package whose `__init__.py` defines `create_actions(context: ActionContext) -> list[Action]`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

from callbot.config import Config

if TYPE_CHECKING:
    import datetime as dt

    from bot.reservations import ReservationStore
    from bot.stores import StoreDirectory

logger = logging.getLogger(__name__)

ACTION_ERROR_TEXT = "죄송합니다. 처리 중에 문제가 생겼습니다. 잠시 후 다시 말씀해 주세요."


class ActionLoadError(Exception):
    """The actions folder is missing, fails to import, or does not define `create_actions` properly."""


@dataclass(frozen=True)
class ActionContext:
    """The services custom actions may use, built once by the runtime from the configuration.

    `clock` returns the current local time for actions that resolve "내일" or check opening hours;
    None means the real clock (conversation tests pass the day their file is written for).
    """

    config: Config
    reservations: ReservationStore | None = None
    stores: StoreDirectory | None = None
    clock: Callable[[], dt.datetime] | None = None


def import_actions_package(folder: Path) -> Any:
    """Import the package in `folder` under a unique module name, isolated from other imports."""
    init = folder / "__init__.py"
    if not init.is_file():
        raise ActionLoadError(f"{folder}: not an actions package (no __init__.py)")
    name = "callbot_actions_" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        raise ActionLoadError(f"{init}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ActionLoadError(f"{init}: import failed: {type(exc).__name__}: {exc}") from exc
    return module


def load_actions(folder: Path | None, context: ActionContext) -> list[Action]:
    """The actions `create_actions(context)` of the package in `folder` returns (none without a folder)."""
    if folder is None:
        return []
    module = import_actions_package(folder)
    factory = getattr(module, "create_actions", None)
    if not callable(factory):
        raise ActionLoadError(f"{folder / '__init__.py'}: defines no create_actions(context) function")
    try:
        actions = list(factory(context))
    except Exception as exc:
        raise ActionLoadError(f"{folder}: create_actions failed: {type(exc).__name__}: {exc}") from exc
    bad = [repr(a) for a in actions if not isinstance(a, Action)]
    if bad:
        raise ActionLoadError(f"{folder}: create_actions returned non-Action objects: {', '.join(bad)}")
    return actions


def check_responses_fast() -> None:
    """Make Rasa's check of custom action responses cheap: same schema, same errors, ~50x faster.

    `RemoteAction._validate_action_result` calls `jsonschema.validate`, which first validates Rasa's
    constant response schema against the JSON Schema meta-schema: ~25 ms per custom action call (a
    form turn makes two or three), nearly all of a turn's time. This compiles the schema once and
    checks each response with it; a response that fails goes to Rasa's own method, so the error and
    its message are unchanged. It replaces the method on the class (Rasa creates a `RemoteAction`
    per call); idempotent, and subclasses with their own schema keep Rasa's method.
    """
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    rasa_check = RemoteAction._validate_action_result
    if getattr(rasa_check, "callbot_fast", False):
        return
    spec = RemoteAction.action_response_format_spec
    schema = spec()
    validator = validator_for(schema)(schema)

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if (
            type(self).action_response_format_spec is spec
            and best_match(validator.iter_errors(result)) is None
        ):
            return True
        return rasa_check(self, result)  # raises Rasa's ValidationError, message included

    validate_action_result.callbot_fast = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def build_executor(actions: list[Action]) -> ActionExecutor:
    executor = ActionExecutor()
    for action in actions:
        executor.register_action(action)
    return executor


class InProcessActionEndpoint(EndpointConfig):
    """An action endpoint for `Agent.load(action_endpoint=...)` that runs actions in this process.

    A rejection (`ActionExecutionRejection`, e.g. a form validation refusing a value) reaches Rasa as
    the HTTP 400 its `RemoteAction` expects. Any other error in an action is logged with the call id
    and answered with a polite spoken error, so one failing action never ends the call or the server.
    """

    def __init__(self, executor: ActionExecutor, error_text: str = ACTION_ERROR_TEXT) -> None:
        super().__init__(url="in-process://actions")
        check_responses_fast()
        self.executor = executor
        self.error_text = error_text

    @property
    def action_names(self) -> list[str]:
        return sorted(self.executor.actions)

    async def request(
        self,
        method: str = "post",
        subpath: str | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        call = kwargs.get("json") or {}
        name = call.get("next_action")
        call_id = call.get("sender_id")
        try:
            return await self.executor.run(call) or {"events": [], "responses": []}
        except ActionExecutionRejection as exc:
            body = json.dumps({"error": exc.message, "action_name": exc.action_name})
            raise ClientResponseError(400, "rejected", body) from exc
        except ActionNotFoundException:
            logger.error("bot.action.not_found call=%s action=%s", call_id, name)
        except Exception:
            logger.exception("bot.action.failed call=%s action=%s", call_id, name)
        return {"events": [], "responses": [{"text": self.error_text}]}
