"""Building the services from config and running the server (uvicorn, wsproto websockets).

`build_services` loads the real bot and recognizer unless given others, and connects the shared state
(Redis with `state.redis_url`, else in-process) and the call log; `serve` runs until stopped (SIGTERM
drains first, see telephony/drain.py); `ServerThread` runs a server on loopback in a thread (tests,
benchmarks, the simulator's self-test).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets as random_secrets
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from twilio.http import HttpClient

from bot.model_store import adopt_current, open_store
from callbot.config import Config
from callbot.database import create_engine, ping
from callbot.state import RedisLink, StateUnavailable, read_state_settings, replica_name
from telephony.app import create_app
from telephony.call_state import CallStates
from telephony.calllog import CallLog
from telephony.control import CallControl
from telephony.drain import drain
from telephony.health import Readiness
from telephony.metrics import Metrics
from telephony.reload import reload_models
from telephony.services import BotLike, CallServices, RecognizerLike
from telephony.settings import TelephonySettings, read_telephony_settings
from telephony.tokens import StreamTokens, secret_from
from telephony.tts import create_tts
from telephony.tts_cache import AudioCache, CachedSpeech
from telephony.warmup import warm_recognizers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Secrets:
    """Values entry points read from the environment (TWILIO_ACCOUNT_SID, ...)."""

    account_sid: str | None = None
    auth_token: str | None = None
    admin_token: str | None = None
    redis_password: str | None = None  # CALLBOT_REDIS_PASSWORD, for a state.redis_url without one
    console_secret: str | None = None  # CALLBOT_CONSOLE_SECRET: signs console sessions (else kept in the db)

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str]) -> Secrets:
        return cls(
            env.get("TWILIO_ACCOUNT_SID"),
            env.get("TWILIO_AUTH_TOKEN"),
            env.get("CALLBOT_ADMIN_TOKEN"),
            env.get("CALLBOT_REDIS_PASSWORD"),
            env.get("CALLBOT_CONSOLE_SECRET"),
        )


async def build_services(
    config: Config,
    secrets: Secrets,
    *,
    settings: TelephonySettings | None = None,
    bot: BotLike | None = None,
    recognizer: RecognizerLike | None = None,
    http_client: HttpClient | None = None,
    insecure_dev: bool = False,
    console: bool = True,
) -> CallServices:
    """Everything the server shares between calls; the real Bot and SpeechRecognizer by default."""
    settings = settings or read_telephony_settings(config)
    state = read_state_settings(config)
    replica = replica_name(state, settings.port)
    link = RedisLink(state, secrets.redis_password) if state.shared else RedisLink.memory(state)
    closers: list[Callable[[], None]] = [link.close]
    if state.shared and (error := await asyncio.to_thread(link.ping)):
        logger.warning("telephony.server.redis_unreachable error=%s (calls stay in-process meanwhile)", error)
    calls = CallStates(link, replica)
    closers.append(calls.close)
    model_store = open_store(config)  # models.store: where a reload fetches a version this replica lacks
    if model_store is not None:
        closers.append(model_store.close)
        if bot is None:  # a replica with its own, empty models folder serves the promoted version
            await asyncio.to_thread(adopt_current, model_store, settings.models_dir)
    warming: asyncio.Future[int] | None = None
    if recognizer is None:
        from stt.engine import SpeechRecognizer

        loaded = await asyncio.to_thread(SpeechRecognizer.from_config, config)
        recognizer = loaded
        closers.append(loaded.close)
        # Cold recognizers decode ~3x slower: warm them while the bot loads (telephony.warmup).
        warming = asyncio.ensure_future(asyncio.to_thread(warm_recognizers, loaded, settings))
    if bot is None:
        from bot.dialogue_state import DialogueState
        from bot.runtime import Bot

        real_bot = await Bot.load(config, DialogueState(link))
        bot = real_bot
        closers.append(real_bot.close)
    if warming is not None:
        await warming
    tts = create_tts(settings.tts)
    cache = AudioCache(settings.state_dir / "tts_cache") if settings.tts.cache else None
    calllog = CallLog(settings.sqlalchemy_url, spool=settings.state_dir / "calllog-spool", name=replica)
    readiness = Readiness(_checks(config, settings, link, calllog, closers))
    closers.append(readiness.close)
    metrics = Metrics(replica)
    services = CallServices(
        settings=settings,
        bot=bot,
        recognizer=recognizer,
        speech=CachedSpeech(tts, cache),
        calllog=calllog,
        control=CallControl(secrets.account_sid, secrets.auth_token, http_client),
        tokens=StreamTokens(settings.token_ttl_seconds, await _token_secret(secrets, calls)),
        stt_executor=ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="call-stt"),
        calls=calls,
        metrics=metrics,
        readiness=readiness,
        replica=replica,
        link=link if state.shared else None,
        auth_token=secrets.auth_token,
        admin_token=secrets.admin_token,
        insecure_dev=insecure_dev,
        closers=closers,
        model_store=model_store,
    )
    if console:
        services.console_app = _console_app(config, secrets, services)
    metrics.bind(
        lambda: len(services.live_calls),
        lambda: services.calllog.pending_writes,
        lambda: str(getattr(services.bot, "version", "")),
    )
    services.drift = _drift_monitor(config, settings, services)
    loop = asyncio.get_running_loop()

    def resync() -> None:  # on the probe thread: Redis answers again; live calls store their state
        loop.call_soon_threadsafe(lambda: [s.resync() for s in list(services.live_calls.values())])

    link.on_recovered(resync)
    return services


def _console_app(config: Config, secrets: Secrets, services: CallServices) -> Any:
    """The operator console over the same call-log database, or None (logged) when it cannot open. A
    promotion reloads this process's bot, unless console.replicas lists the replicas to reload in turn."""
    from callbot.database import DatabaseError
    from console import ConsoleError
    from console.app import ConsoleServices, create_console_app
    from console.settings import read_console_settings

    try:
        console = ConsoleServices.open(
            read_console_settings(config, services.settings), secrets.console_secret, secrets.admin_token
        )
    except (ConsoleError, DatabaseError, SQLAlchemyError) as exc:
        logger.error("telephony.server.console_unavailable error=%s", exc)
        return None
    services.closers.append(console.close)
    # The banner shows the server's drift monitor's latest report until the Drift page keeps its own.
    console.drift.fallback = lambda: getattr(services.drift, "latest", None)
    if not console.settings.replicas:

        async def reload_here() -> list[dict[str, Any]]:
            version = await reload_models(services)
            return [{"replica": services.replica, "version": version}]

        console.reload = reload_here
    return create_console_app(console)


def _drift_monitor(config: Config, settings: TelephonySettings, services: CallServices) -> Any:
    """The periodic drift judgement (gauges on /metrics, alert log line, webhook), or None when off."""
    from bot.config import BotSettings
    from bot.nlu.decision import is_rejection_class
    from drift.settings import DriftSettings
    from drift.watch import DriftGauges, DriftMonitor

    drift = DriftSettings.from_config(config)
    if not drift.enabled:
        return None
    names = BotSettings.from_config(config).out_of_scope_intents
    return DriftMonitor(
        drift,
        services.calllog.engine,
        settings.models_dir,
        lambda: str(getattr(services.bot, "version", "")),
        DriftGauges(services.metrics.registry),
        is_oos=lambda intent: is_rejection_class(intent, names),
    )


async def _token_secret(secrets: Secrets, calls: CallStates) -> bytes:
    """Stream tokens must verify on every replica: derived from TWILIO_AUTH_TOKEN, else agreed in Redis."""
    derived = secret_from(secrets.auth_token)
    if derived is not None:
        return derived
    candidate = random_secrets.token_bytes(32)
    try:
        return await calls.shared_secret(candidate)
    except StateUnavailable:
        logger.warning("telephony.server.token_secret_local (Redis down: tokens verify on this replica only)")
        return candidate


def _checks(
    config: Config,
    settings: TelephonySettings,
    link: RedisLink,
    calllog: CallLog,
    closers: list[Callable[[], None]],
) -> dict[str, Callable[[], None]]:
    """What /readyz asks: Redis (when shared), the call-log database, the reservations database (when
    it is a server of its own)."""
    checks: dict[str, Callable[[], None]] = {}
    if link.shared:

        def redis_check() -> None:
            if error := link.ping():
                raise ConnectionError(error)

        checks["redis"] = redis_check
    checks["database"] = lambda: ping(calllog.engine)
    url = str(config.section("bot").get("database_url") or "")
    if url and not url.startswith("sqlite") and url != settings.sqlalchemy_url:
        engine = create_engine(url)
        closers.append(engine.dispose)
        checks["reservations"] = lambda: ping(engine)
    return checks


def make_app(services: CallServices) -> Starlette:
    """The app with its lifespan: the models/current watcher (when enabled) and clean shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watcher = None
        if services.settings.reload_watch_seconds > 0:
            watcher = asyncio.ensure_future(watch_models(services))
        drift = asyncio.ensure_future(services.drift.run()) if services.drift is not None else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            if drift is not None:
                drift.cancel()
            services.stt_executor.shutdown(wait=False, cancel_futures=True)
            services.calllog.close()
            for closer in services.closers:
                closer()

    return create_app(services, lifespan=lifespan)


async def watch_models(services: CallServices) -> None:
    """Reload the bot when the models/current pointer changes, or (with a model store) when the store's
    promoted version changes: fetched when this replica lacks it. Calls in progress keep going."""
    pointer = services.settings.models_dir / "current"
    last = _pointer_target(pointer)
    watch = _PromotedWatch()
    await watch.changed(services)  # only promotions from now on
    while True:
        await asyncio.sleep(services.settings.reload_watch_seconds)
        promoted = await watch.changed(services)
        if promoted is not None:
            try:
                version = await reload_models(services, promoted)
                logger.info("telephony.reload.done version=%s trigger=store", version)
            except Exception as exc:  # noqa: BLE001 - a missing or bad version keeps the old one serving
                logger.error("telephony.reload.failed target=%s error=%s", promoted, exc)
            last = _pointer_target(pointer)  # our own switch is no second trigger
            continue
        target = _pointer_target(pointer)
        if target != last and target is not None:
            last = target
            try:
                version = await reload_models(services)
                logger.info("telephony.reload.done version=%s trigger=watch", version)
            except Exception as exc:  # noqa: BLE001 - a bad model keeps the old one serving
                logger.error("telephony.reload.failed target=%s error=%s", target, exc)


class _PromotedWatch:
    """The model store's promoted version, seen by a watcher: `changed` returns it when it is new."""

    def __init__(self) -> None:
        self.last: str | None = None
        self.error = ""

    async def changed(self, services: CallServices) -> str | None:
        from bot.model_store import ModelStoreError

        store = services.model_store
        if store is None:
            return None
        try:
            promoted = await asyncio.to_thread(store.current)
        except ModelStoreError as exc:
            if str(exc) != self.error:  # once per new error, not once per poll
                logger.warning("telephony.reload.store_unreadable error=%s", exc)
            self.error = str(exc)
            return None
        self.error = ""
        if promoted is None or promoted == self.last:
            return None
        self.last = promoted
        return promoted


def _pointer_target(pointer: Path) -> str | None:
    try:
        if pointer.is_symlink():
            return os.readlink(pointer)
        return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None
    except OSError:
        return None


def uvicorn_config(app: Starlette, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    # No permessage-deflate: media messages are ~400 bytes of base64 audio, 50 a second per call each way;
    # zlib on every one cost CPU on the event loop (and the GIL) for ~25% fewer bytes.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="wsproto",
        lifespan="on",
        log_level=log_level,
        ws_max_size=1 << 20,
        ws_per_message_deflate=False,
    )


class DrainingServer(uvicorn.Server):
    """uvicorn, except that the first SIGTERM drains (telephony/drain.py) before the server stops.

    A second SIGTERM, or SIGINT, stops at once (uvicorn's own handling).
    """

    def __init__(self, config: uvicorn.Config, services: CallServices) -> None:
        super().__init__(config)
        self.services = services
        self._loop: asyncio.AbstractEventLoop | None = None
        self.draining: asyncio.Future[None] | None = None

    async def serve(self, sockets: list | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: object) -> None:
        if sig == signal.SIGTERM and self.draining is None and not self.should_exit and self._loop:
            self._loop.call_soon_threadsafe(self.start_drain)
            return
        super().handle_exit(sig, frame)  # type: ignore[arg-type]

    def start_drain(self) -> None:
        if self.draining is None:
            self.draining = asyncio.ensure_future(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        try:
            await drain(self.services)
        finally:
            self.should_exit = True


async def serve(services: CallServices, host: str, port: int) -> None:
    """Run until stopped: SIGTERM drains first, SIGINT (or a second SIGTERM) stops at once."""
    await DrainingServer(uvicorn_config(make_app(services), host, port), services).serve()


class ServerThread:
    """A real server on 127.0.0.1 in a background thread, for tests and benchmarks.

    `factory` builds the services inside the server's own event loop (the bot may bind loop resources).
    """

    def __init__(
        self, factory: Callable[[], Awaitable[CallServices]], port: int = 0, start_timeout: float = 600.0
    ) -> None:
        self.start_timeout = start_timeout
        self.factory = factory
        self.port = port or _free_port()
        self.services: CallServices | None = None
        self._server: DrainingServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="callbot-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(self.start_timeout) or self._error is not None:
            raise RuntimeError(f"server did not start: {self._error}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)

    def drain(self) -> None:
        """What SIGTERM does to `callbot serve`: drain, then stop (see telephony/drain.py)."""
        server = self._server
        if server is not None and server._loop is not None:
            server._loop.call_soon_threadsafe(server.start_drain)

    @property
    def stopped(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        try:
            self.services = await self.factory()
            self._server = DrainingServer(
                uvicorn_config(make_app(self.services), "127.0.0.1", self.port, "warning"), self.services
            )
            task = asyncio.ensure_future(self._server.serve())
            while not self._server.started and not task.done():
                await asyncio.sleep(0.02)
            self._ready.set()
            await task
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            raise


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
