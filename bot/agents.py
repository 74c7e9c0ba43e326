"""Loading a model version for the dialogue runtime, the Rasa thread, and the runtime's own settings.

Threading: TensorFlow inference inside Rasa's async methods blocks for ~5-15 ms per turn. All Rasa work
of a model version runs on that version's own thread with its own event loop (`RasaThread`), so the
server's loop (audio in and out for every call) never waits on a model. A new version is loaded and
warmed up on a new thread (TensorFlow traces its graphs per thread on first use, ~1 s per model), while
turns keep being served by the old version's thread; the old thread stops after a grace period.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.actions import ActionContext, InProcessActionEndpoint, build_executor, load_actions
from bot.dialogue_state import TrackerStores
from bot.models import ModelSet, current_model_set, load_model_set
from bot.nlu.decision import Thresholds
from bot.nlu.parser import load_agent
from bot.nlu.vocabulary import FILE_NAME as VOCABULARY_FILE
from bot.nlu.vocabulary import Vocabulary
from callbot.config import Config

logger = logging.getLogger(__name__)
T = TypeVar("T")
WARM_UP_TEXT = "안녕하세요"
WARM_UP_ID = "__callbot_warm_up__"
HIDDEN_SLOTS = frozenset({"requested_slot", "session_started_metadata"})


@dataclass(frozen=True)
class RuntimeSettings:
    """Where the runtime finds models and the services its actions use."""

    models_dir: Path
    state_dir: Path
    actions_dir: Path | None
    database_url: str
    stores_file: Path | None
    domain_order: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Config) -> RuntimeSettings:
        paths = config.reader("paths")
        models_dir = paths.path("models_dir", "models")
        state_dir = paths.path("state_dir", "var")
        paths.done()
        r = config.reader("bot")
        actions_dir = r.path("actions_dir", None, must_exist=True)
        database_url = r.str("database_url", f"sqlite:///{state_dir / 'callbot.db'}")
        stores_file = r.path("stores_file", None, must_exist=True)
        r.done()
        order = config.section("data").get("domains") or ()
        return cls(
            models_dir=models_dir,
            state_dir=state_dir,
            actions_dir=actions_dir,
            database_url=database_url,
            stores_file=stores_file,
            domain_order=tuple(str(d) for d in order) if isinstance(order, list) else (),
        )


class RasaThread:
    """One thread running an event loop for all Rasa work of a model version (NLU, policies, actions)."""

    def __init__(self, name: str = "callbot-rasa") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the Rasa thread and wait for it without blocking the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)


@dataclass(frozen=True)
class LoadedVersion:
    """Every Agent of one model version, plus what the runtime derives from their domains."""

    version: str
    rasa: RasaThread
    router: Any
    agents: dict[str, Any]
    thresholds: Thresholds
    fixed_texts: dict[str, frozenset[str]]
    intents: dict[str, frozenset[str]]
    number_slots: dict[str, frozenset[str]]
    vocabulary: Vocabulary | None = None  # the version's own words (bot.nlu.vocabulary); None: older version
    # A business word alone, read by this version's models (bot.misheard): the same every time, kept.
    keyword_readings: dict[str, Any] = field(default_factory=dict)

    def is_fixed(self, domain: str | None, texts: list[str]) -> bool:
        """True when every text is a response template of the domain without `{slot}` placeholders."""
        fixed = self.fixed_texts.get(domain or "", frozenset())
        return bool(texts) and all(t in fixed for t in texts)


async def _warm_up(agent: Any, store: Any | None) -> None:
    """Run one throwaway turn: the first parse and prediction trace TensorFlow graphs (~0.5-1 s),
    which is better paid while loading than in a caller's first turn."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    if store is None:  # the router: NLU only
        await agent.parse_message(WARM_UP_TEXT)
        return
    message = UserMessage(WARM_UP_TEXT, CollectingOutputChannel(), sender_id=WARM_UP_ID)
    try:
        await agent.handle_message(message)
    finally:
        store.forget(WARM_UP_ID)


def _fixed_texts(agent: Any) -> frozenset[str]:
    texts = set()
    for variations in (agent.domain.responses or {}).values():
        for v in variations:
            text = v.get("text")
            if isinstance(text, str) and "{" not in text:
                texts.add(text)
    return frozenset(texts)


def _number_slots(agent: Any) -> frozenset[str]:
    from rasa.shared.core.slots import FloatSlot

    return frozenset(s.name for s in agent.domain.slots if isinstance(s, FloatSlot))


async def load_version(
    rasa: RasaThread,
    model_set: ModelSet,
    endpoint: InProcessActionEndpoint,
    trackers: TrackerStores,
    lock_store: Any,
    defaults: Thresholds,
    order: tuple[str, ...] = (),
) -> LoadedVersion:
    """Load the router and every domain Agent of `model_set`; runs on `rasa`, the version's own thread.

    Loading blocks that thread (seconds per model), which serves no turns yet. Each domain keeps one
    tracker store across versions (`trackers`, created on first use by `bot.dialogue_state`), so calls
    in progress keep their dialogue state when a new version is swapped in.
    """

    async def load(name: str, path: Path, **kwargs: Any) -> Any:
        agent = load_agent(path, **kwargs)
        logger.info("bot.runtime.loaded version=%s model=%s", model_set.version, name)
        return agent

    router = await load("router", model_set.router)
    rank = {name: i for i, name in enumerate(order)}
    names = sorted(model_set.domains, key=lambda n: (rank.get(n, len(rank)), n))
    agents = {}
    for name in names:
        store = trackers[name]
        agents[name] = await load(
            name,
            model_set.domains[name],
            tracker_store=store,
            lock_store=lock_store,
            action_endpoint=endpoint,
        )
    # after every load: loading a model invalidates the TensorFlow graphs traced for the others
    await _warm_up(router, None)
    for name, agent in agents.items():
        await _warm_up(agent, trackers[name])
    return LoadedVersion(
        version=model_set.version,
        rasa=rasa,
        router=router,
        agents=agents,
        thresholds=Thresholds.from_manifest(model_set.thresholds, defaults),
        fixed_texts={n: _fixed_texts(a) for n, a in agents.items()},
        intents={n: frozenset(a.domain.intents) for n, a in agents.items()},
        number_slots={n: _number_slots(a) for n, a in agents.items()},
        vocabulary=_vocabulary(model_set),
    )


def _vocabulary(model_set: ModelSet) -> Vocabulary | None:
    path = model_set.directory / VOCABULARY_FILE
    if not path.is_file():
        logger.debug("bot.runtime.no_vocabulary version=%s", model_set.version)
        return None
    return Vocabulary.load(path)


async def load_services(
    config: Config, settings: RuntimeSettings, context: ActionContext | None = None
) -> InProcessActionEndpoint:
    """Build the action context (reservation store, store directory) and the in-process endpoint.

    A given `context` is used as it is (conversation tests bring their own store and clock).
    """
    from bot.reservations import ReservationStore
    from bot.stores import StoreDirectory

    if context is None:
        stores = StoreDirectory.from_csv(settings.stores_file) if settings.stores_file else None
        reservations = ReservationStore(settings.database_url)
        context = ActionContext(config=config, reservations=reservations, stores=stores)
    actions = await asyncio.to_thread(load_actions, settings.actions_dir, context)
    endpoint = InProcessActionEndpoint(build_executor(actions))
    logger.info("bot.runtime.actions count=%d names=%s", len(actions), ",".join(endpoint.action_names))
    return endpoint


def default_thresholds(config: Config) -> Thresholds:
    """Thresholds for versions whose manifest has none: `bot.router_threshold`, `bot.domain_threshold`."""
    from bot.config import BotSettings

    s = BotSettings.from_config(config)
    return Thresholds(
        router=s.default_router_threshold,
        domain_default=s.default_domain_threshold,
        out_of_scope_intents=s.out_of_scope_intents,
    )


def read_current(models_dir: Path, version: str | None = None) -> ModelSet:
    """The model set `models/current` names, or `version` when given (a pinned bot)."""
    return load_model_set(models_dir, version) if version else current_model_set(models_dir)


def slot_values(tracker: Any) -> dict[str, Any]:
    if tracker is None:
        return {}
    return {k: v for k, v in tracker.current_slot_values().items() if v is not None and k not in HIDDEN_SLOTS}
