"""Hot reload: the bot's new model version for new turns, and its domain LM for new calls.

`reload_models` is what `POST /admin/reload` and the `models/current` watcher run. The bot swaps in the
version `models/current` points at (calls in progress keep their dialogue state). When that version
brings a different phone-rate speech model (`<version>/stt/domain`, see `stt.models.model_sources`), a
new recognizer is loaded and serves the calls that start from then on; calls in progress keep the
recognizer (and decode pool) they started with, which is closed once its last stream has closed.

Asked for a version (a promotion's rolling reload names it), the replica first makes sure its own models
folder holds it: missing, it is fetched from the model store (`bot.model_store`, checksum verified,
unpacked atomically), and this folder's `current` is pointed at it. A fetch that fails changes nothing;
a version that fails to load puts `current` back. Either way the bot keeps serving its version.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.models import switch_current
from telephony.services import CallServices
from telephony.warmup import warm_recognizers

if TYPE_CHECKING:
    from stt.engine import SpeechRecognizer

logger = logging.getLogger(__name__)
RETIRE_POLL_SECONDS = 1.0


async def reload_models(services: CallServices, version: str | None = None) -> str:
    """Reload the bot, then the recognizer if the speech model changed; returns the bot's version.

    `version`: the one to serve, fetched from the model store first when this replica lacks it
    (raises `bot.model_store.ModelStoreError` naming the version and the store; nothing changed then).
    """
    previous = await asyncio.to_thread(_make_current, services, version) if version is not None else None
    try:
        version = await services.bot.reload()
    except BaseException:
        if previous is not None:  # a restart must not pick up a version that does not load
            await asyncio.to_thread(switch_current, services.settings.models_dir, previous)
        raise
    try:
        await _switch_recognizer(services)
    except Exception as exc:  # noqa: BLE001 - a bad speech model keeps the old recognizer serving
        logger.error("telephony.reload.stt_failed version=%s error=%s", version, exc)
    return version


def _make_current(services: CallServices, version: str) -> str | None:
    """`version` in this replica's models folder (fetched when missing) and made current there; returns
    the version `current` named before when it changed."""
    from bot.model_store import ensure_version
    from bot.models import read_current_version

    models_dir = services.settings.models_dir
    ensure_version(services.model_store, models_dir, version)
    before = read_current_version(models_dir)
    if before == version:
        return None
    switch_current(models_dir, version)
    return before


async def _switch_recognizer(services: CallServices) -> None:
    from stt.engine import SpeechRecognizer

    old = services.recognizer
    if not isinstance(old, SpeechRecognizer):  # a recognizer double: nothing to reload
        return
    new = await asyncio.to_thread(_reloaded, old)
    if new is None:
        return
    # Cold recognizers decode ~3x slower (telephony.warmup): warm the new ones before calls get them.
    await asyncio.to_thread(warm_recognizers, new, services.settings)
    services.recognizer = new
    services.closers.append(new.close)
    if old.close in services.closers:  # ours: closed once its calls have ended (or at shutdown)
        asyncio.ensure_future(_retire(old))
    logger.info(
        "telephony.reload.stt sources=%s live_calls=%d",
        ",".join(f"{rate}:{m.source}" for rate, m in sorted(new.models.items())),
        len(services.live_calls),
    )


def _reloaded(old: SpeechRecognizer) -> SpeechRecognizer | None:
    """A recognizer over the models `model_sources` picks now, or None when they are unchanged.

    Rates whose model folder did not change share the already loaded model.
    """
    from stt.engine import SpeechRecognizer, load_model
    from stt.models import bundled_model_path, model_sources

    sources = model_sources(old.settings)
    wanted = {rate: (src or bundled_model_path()).resolve() for rate, src in sources.items()}
    if all(rate in old.models and old.models[rate].source.resolve() == path for rate, path in wanted.items()):
        return None
    loaded = {m.source.resolve(): m for m in old.models.values()}
    models = {}
    for rate, path in wanted.items():
        if path not in loaded:
            loaded[path] = load_model(sources[rate], old.settings)
        models[rate] = loaded[path]
    return SpeechRecognizer(old.settings, models, old.hand_over_second_pass())


async def _retire(recognizer: SpeechRecognizer) -> None:
    """Close a replaced recognizer once no call uses it any more."""
    while recognizer.active_streams > 0:
        await asyncio.sleep(RETIRE_POLL_SECONDS)
    recognizer.close()
    logger.info("telephony.reload.stt_retired")
