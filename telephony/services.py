"""What the server shares between calls, passed explicitly: the bot, the recognizer, TTS, the call log,
the calls' shared state, metrics and readiness.

`BotLike` and `RecognizerLike` are the interfaces telephony relies on (`bot.runtime.Bot` and
`stt.engine.SpeechRecognizer` implement them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from callbot.events import BotReply, Dtmf, Silence, Transcript, UserText
from callbot.state import RedisLink
from telephony.call_state import CallStates
from telephony.calllog import CallLog
from telephony.control import CallControl
from telephony.health import Readiness
from telephony.metrics import Metrics
from telephony.settings import TelephonySettings
from telephony.tokens import StreamTokens
from telephony.tts_cache import CachedSpeech

if TYPE_CHECKING:
    from telephony.session import CallSession


class RecognitionStreamLike(Protocol):
    def accept(self, pcm16: bytes) -> Sequence[Transcript]: ...
    def flush(self) -> Sequence[Transcript]: ...


class RecognizerLike(Protocol):
    def stream(self, sample_rate: int) -> RecognitionStreamLike: ...


class BotLike(Protocol):
    version: str

    def new_session(self, call_id: str) -> Any: ...
    async def greet(self, session: Any) -> BotReply: ...
    async def handle(self, session: Any, event: UserText | Dtmf | Silence) -> BotReply: ...
    async def end_session(self, session: Any) -> None: ...
    async def reload(self) -> str: ...
    # A call that moves between replicas: what to store (`bot.dialogue_state.StateSnapshot`), the
    # dialogue picked up after a move (None: nothing survived), and a stream leaving without an end.
    def checkpoint(self, session: Any) -> Any: ...
    async def resume_session(self, call_id: str) -> Any | None: ...
    async def release_session(self, session: Any) -> None: ...


@dataclass
class CallServices:
    """Everything a call needs besides its own state. One per server."""

    settings: TelephonySettings
    bot: BotLike
    recognizer: RecognizerLike
    speech: CachedSpeech
    calllog: CallLog
    control: CallControl
    tokens: StreamTokens
    stt_executor: ThreadPoolExecutor
    calls: CallStates  # every call's progress: in-process, or in Redis shared by the replicas
    metrics: Metrics
    readiness: Readiness
    replica: str = ""  # this process's name (state.replica_id or host:port)
    link: RedisLink | None = None  # Redis, when state.redis_url is set
    auth_token: str | None = None  # TWILIO_AUTH_TOKEN: validates X-Twilio-Signature
    admin_token: str | None = None  # CALLBOT_ADMIN_TOKEN: /admin/* bearer token
    insecure_dev: bool = False  # skip signature validation (development only)
    live_calls: dict[str, CallSession] = field(default_factory=dict)
    draining: bool = False  # SIGTERM: /readyz fails, new streams are handed to other replicas
    drift: Any = None  # drift.watch.DriftMonitor, run by the server's lifespan (drift.enabled)
    # Close functions of what build_services created (a bot passed in by the caller stays open).
    closers: list[Callable[[], None]] = field(default_factory=list)
    console_app: Any = None  # the operator console's ASGI app, mounted at /console (console.app)
    # Where a reload fetches a version this replica's models folder lacks (bot.model_store, models.store).
    model_store: Any = None
