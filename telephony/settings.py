"""The `telephony` section of callbot.yml, validated at once (every bad key reported together)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from callbot.config import Config, SectionReader

DEFAULT_BACKCHANNELS = ("네", "예", "음", "어", "응", "아", "네네", "예예", "그렇죠")
DEFAULT_BUSY = "죄송합니다. 지금은 통화량이 많아 연결이 어렵습니다. 잠시 후 다시 걸어 주세요."
DEFAULT_SILENCE_HANDOFF = "응답이 없으셔서 상담원에게 연결해 드리겠습니다."
DEFAULT_GOODBYE = "응답이 없으셔서 통화를 종료하겠습니다. 감사합니다."
DEFAULT_APOLOGY = "죄송합니다, 잠시 연결이 끊겼어요."
DEFAULT_ASK_AGAIN = "다시 말씀해 주시겠어요?"

_SUBKEYS = {
    "tts": ("backend", "voice", "speed", "cache"),
    "silence": ("reprompt_seconds", "max_reprompts", "handoff_text", "goodbye_text"),
    "barge_in": ("enabled", "backchannels", "min_chars"),
    "failover": ("drain_seconds", "apology", "ask_again"),
}


@dataclass(frozen=True)
class TtsSettings:
    backend: str = "espeak"  # a name in telephony.tts.BACKENDS
    voice: str = "ko"  # espeak-ng voice, or the Twilio <Say> voice (e.g. Polly.Seoyeon) for twilio_say
    speed: int = 165  # espeak-ng words per minute
    cache: bool = True  # fixed replies come pre-rendered from the audio cache


@dataclass(frozen=True)
class SilenceSettings:
    reprompt_seconds: float = 7.0  # caller silent this long after the bot finished speaking -> Silence
    max_reprompts: int = 2  # after this many reprompts in a row the next silence hands off (or hangs up)
    handoff_text: str = DEFAULT_SILENCE_HANDOFF
    goodbye_text: str = DEFAULT_GOODBYE  # said instead when no agent_number is configured


@dataclass(frozen=True)
class BargeInSettings:
    enabled: bool = True
    backchannels: tuple[str, ...] = DEFAULT_BACKCHANNELS  # caller words that do not interrupt the bot
    min_chars: int = 2  # shorter partial transcripts never interrupt (noise, coughs)


@dataclass(frozen=True)
class FailoverSettings:
    """A call moving to another replica (one died, or drained) and draining this one."""

    drain_seconds: float = 60.0  # SIGTERM: live calls may finish this long, then move to another replica
    apology: str = (
        DEFAULT_APOLOGY  # said when a call resumes after its stream moved, then the pending question
    )
    ask_again: str = DEFAULT_ASK_AGAIN  # ... or this, when no question was pending


@dataclass(frozen=True)
class TelephonySettings:
    public_url: str | None = None  # https://host as Twilio reaches it; None: taken from each request
    host: str = "0.0.0.0"
    port: int = 8080
    greeting: str = ""  # <Say> before the stream connects; empty: the bot's own greeting over the stream
    agent_number: str = ""  # E.164 number handoffs <Dial>; empty: handoffs end the call politely
    busy_text: str = DEFAULT_BUSY  # said when every STT slot is in use
    tts: TtsSettings = field(default_factory=TtsSettings)
    silence: SilenceSettings = field(default_factory=SilenceSettings)
    barge_in: BargeInSettings = field(default_factory=BargeInSettings)
    failover: FailoverSettings = field(default_factory=FailoverSettings)
    save_audio: bool = False  # caller audio per turn as WAV under <state_dir>/calls/<CallSid>/
    database_url: str = ""  # empty: sqlite under paths.state_dir; postgresql://... switches
    max_frame_bytes: int = 64 * 1024  # larger websocket messages are refused (a media frame is ~300)
    token_ttl_seconds: float = 120.0  # a stream token must be used this soon after the webhook
    low_confidence: float = 0.5  # turns below this (STT or intent) are exported for review
    reload_watch_seconds: float = 0.0  # poll models/current and the model store; 0: only /admin/reload
    # Recognizers warmed at startup with cached reply audio (capped by stt.max_streams); 0: none. A cold
    # recognizer decodes its first utterances ~3x slower, which a burst of new calls turns into backlog.
    warm_recognizers: int = 40
    # Digits keyed without `#` are taken as complete after this long without another key (0: wait for #).
    keypad_pause_seconds: float = 3.0
    # The slot whose value after a turn is logged as the turn's store (the console's store filter);
    # default: the first of bot.shared_slots; "": none.
    store_slot: str = ""
    state_dir: Path = Path("var")
    models_dir: Path = Path("models")

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'calls.db'}"


def read_telephony_settings(config: Config) -> TelephonySettings:
    """Validate the `telephony` section; raises `ConfigError` listing every bad key."""
    r = config.reader("telephony")
    d = TelephonySettings()
    public_url = r.value("public_url", None, str, _url_check)
    tts = TtsSettings(
        backend=r.str("tts.backend", d.tts.backend, choices=_backend_names()),
        voice=r.str("tts.voice", d.tts.voice),
        speed=r.int("tts.speed", d.tts.speed, min=80, max=450),
        cache=r.bool("tts.cache", d.tts.cache),
    )
    silence = SilenceSettings(
        reprompt_seconds=r.float("silence.reprompt_seconds", d.silence.reprompt_seconds, min=1.0, max=120.0),
        max_reprompts=r.int("silence.max_reprompts", d.silence.max_reprompts, min=0, max=20),
        handoff_text=r.str("silence.handoff_text", d.silence.handoff_text),
        goodbye_text=r.str("silence.goodbye_text", d.silence.goodbye_text),
    )
    barge_in = BargeInSettings(
        enabled=r.bool("barge_in.enabled", d.barge_in.enabled),
        backchannels=tuple(r.str_list("barge_in.backchannels", list(d.barge_in.backchannels))),
        min_chars=r.int("barge_in.min_chars", d.barge_in.min_chars, min=1, max=50),
    )
    failover = FailoverSettings(
        drain_seconds=r.float("failover.drain_seconds", d.failover.drain_seconds, min=0.0, max=86400.0),
        apology=r.str("failover.apology", d.failover.apology),
        ask_again=r.str("failover.ask_again", d.failover.ask_again),
    )
    for name, keys in _SUBKEYS.items():
        _check_subkeys(r, name, keys)
    paths = config.section("paths")
    shared = config.section("bot").get("shared_slots") or []
    shared = [shared] if isinstance(shared, str) else [n for n in shared if isinstance(n, str)]
    settings = TelephonySettings(
        public_url=public_url.rstrip("/") if isinstance(public_url, str) else None,
        host=r.str("host", d.host),
        port=r.int("port", d.port, min=1, max=65535),
        greeting=r.str("greeting", d.greeting),
        agent_number=r.str("agent_number", d.agent_number),
        busy_text=r.str("busy_text", d.busy_text),
        tts=tts,
        silence=silence,
        barge_in=barge_in,
        failover=failover,
        save_audio=r.bool("save_audio", d.save_audio),
        database_url=r.str("database_url", d.database_url),
        max_frame_bytes=r.int("max_frame_bytes", d.max_frame_bytes, min=1024, max=16 * 1024 * 1024),
        token_ttl_seconds=r.float("token_ttl_seconds", d.token_ttl_seconds, min=5.0, max=3600.0),
        low_confidence=r.float("low_confidence", d.low_confidence, min=0.0, max=1.0),
        reload_watch_seconds=r.float("reload_watch_seconds", d.reload_watch_seconds, min=0.0, max=3600.0),
        warm_recognizers=r.int("warm_recognizers", d.warm_recognizers, min=0, max=10000),
        keypad_pause_seconds=r.float("keypad_pause_seconds", d.keypad_pause_seconds, min=0.0, max=60.0),
        store_slot=r.str("store_slot", shared[0] if shared else d.store_slot) or "",
        state_dir=config.resolve(str(paths.get("state_dir") or "var")),
        models_dir=config.resolve(str(paths.get("models_dir") or "models")),
    )
    r.done(
        known=(
            "public_url",
            "host",
            "port",
            "greeting",
            "agent_number",
            "busy_text",
            "save_audio",
            "database_url",
            "max_frame_bytes",
            "token_ttl_seconds",
            "low_confidence",
            "reload_watch_seconds",
            "warm_recognizers",
            "keypad_pause_seconds",
            "store_slot",
            *_SUBKEYS,
        )
    )
    return settings


def _url_check(value: str) -> str | None:
    if not value.startswith(("https://", "http://")):
        return f"must start with https:// (or http:// for local tests), got {value!r}"
    return None


def _check_subkeys(r: SectionReader, name: str, known: tuple[str, ...]) -> None:
    node = r.data.get(name)
    if node is None:
        return
    if not isinstance(node, dict):
        r.error(name, f"expected a mapping, got {node!r}")
        return
    for key in node:
        if key not in known:
            r.error(f"{name}.{key}", f"unknown key (known: {', '.join(known)})")


def _backend_names() -> list[str]:
    from telephony.tts import BACKENDS

    return sorted(BACKENDS)
