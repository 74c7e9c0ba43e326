"""The `stt` section of callbot.yml, validated at once (every bad key reported together)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from callbot.config import Config, SectionReader
from stt.second_pass.settings import SecondPassSettings, read_second_pass

KNOWN_KEYS = (
    "models",
    "phone_rate",
    "resample",
    "dither",
    "beam",
    "max_active",
    "lattice_beam",
    "frames_per_chunk",
    "partials",
    "endpoint",
    "vad",
    "max_streams",
    "threads",
    "decode_nice",
    "max_alternatives",
    "max_file_seconds",
    "low_confidence",
    "work_dir",
    "domain_lm",
    "second_pass",
)
RESAMPLE_CHOICES = ("vosk", "soxr")


@dataclass(frozen=True)
class EndpointSettings:
    """Vosk/Kaldi endpoint rules, in seconds (written into the derived model's conf/model.conf)."""

    trailing_silence: float = 0.5  # rule2: end after this much silence following confident speech
    relaxed_trailing_silence: float = 1.0  # rule3: ... following less confident speech
    no_speech_timeout: float = 5.0  # rule1: end after this much silence with nothing said
    max_utterance: float = 20.0  # rule5: end an utterance this long whatever happens


@dataclass(frozen=True)
class VadSettings:
    """Energy gate in front of the decoder: silence is not decoded."""

    enabled: bool = True
    threshold_db: float = -42.0  # frame RMS in dBFS that counts as possible speech
    noise_margin_db: float = 9.0  # ... and it must also exceed the tracked noise floor by this much
    frame_ms: int = 20
    min_speech_ms: int = 60  # consecutive loud frames needed to open the gate
    hangover_ms: int = 500  # quiet time after speech before the gate closes (ends the utterance)
    preroll_ms: int = 200  # audio kept from before the onset and decoded with it


@dataclass(frozen=True)
class SttSettings:
    models: dict[int, Path | None] = field(default_factory=lambda: {16000: None, 8000: None})
    phone_rate: int = 8000
    resample: str = "vosk"  # how audio reaches a model of another rate: Vosk's own resampler or soxr
    dither: float = 0.0  # 0 makes decoding reproducible; Kaldi's default 1.0 is random per recognizer
    # Decoder search overrides (None: the model's own: beam 10, max-active 3000, lattice-beam 2 for the
    # bundled model). These cut decoder CPU ~20-40% at unchanged CER (benchmarks/stt_tuning.py).
    beam: float | None = 8.0
    max_active: int | None = 1000
    lattice_beam: float | None = 1.0
    frames_per_chunk: int | None = None  # acoustic-model input frames (10 ms) computed per batch
    partials: bool = True
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    max_streams: int = 40
    threads: int = 0  # 0: one decoding thread per core
    # Decoding threads run this much nicer than the process (Linux): the event loop (every call's audio)
    # and the bot's turns, short and waited on, get the cores first; decoding takes the rest.
    decode_nice: int = 10
    max_alternatives: int = 0
    max_file_seconds: float = 600.0
    low_confidence: float = 0.6
    work_dir: Path = Path("var/stt")
    # The phone-rate model is the trained domain LM (`<models_dir>/current/stt/domain`) when there is one
    # and models[phone_rate] is null. models_dir None: never look (tests, benchmarks).
    domain_lm: bool = True
    models_dir: Path | None = None
    # Whisper re-reads each finished utterance (`stt.second_pass`); off unless configured, so code that
    # builds settings itself (tests, benchmarks) loads no second model by accident. callbot.yml turns it on.
    second_pass: SecondPassSettings = field(default_factory=lambda: SecondPassSettings(engine="none"))

    @property
    def thread_count(self) -> int:
        return self.threads or os.cpu_count() or 1


def read_stt_settings(config: Config) -> SttSettings:
    """Validate the `stt` section; raises `ConfigError` listing every bad key."""
    r = config.reader("stt")
    d = SttSettings()
    models = _read_models(r, config)
    resample = r.str("resample", d.resample, choices=RESAMPLE_CHOICES)
    endpoint = EndpointSettings(
        trailing_silence=r.float("endpoint.trailing_silence", 0.5, min=0.05, max=10.0),
        relaxed_trailing_silence=r.float("endpoint.relaxed_trailing_silence", 1.0, min=0.05, max=10.0),
        no_speech_timeout=r.float("endpoint.no_speech_timeout", 5.0, min=0.5, max=60.0),
        max_utterance=r.float("endpoint.max_utterance", 20.0, min=1.0, max=120.0),
    )
    _check_sub(r, "endpoint", EndpointSettings)
    vad = VadSettings(
        enabled=r.bool("vad.enabled", True),
        threshold_db=r.float("vad.threshold_db", -42.0, min=-90.0, max=0.0),
        noise_margin_db=r.float("vad.noise_margin_db", 9.0, min=0.0, max=40.0),
        frame_ms=r.int("vad.frame_ms", 20, min=10, max=50),
        min_speech_ms=r.int("vad.min_speech_ms", 60, min=0, max=1000),
        hangover_ms=r.int("vad.hangover_ms", 500, min=0, max=5000),
        preroll_ms=r.int("vad.preroll_ms", 200, min=0, max=2000),
    )
    _check_sub(r, "vad", VadSettings)
    work_dir = r.path("work_dir", str(d.work_dir))
    second_pass = read_second_pass(r, (work_dir if isinstance(work_dir, Path) else d.work_dir) / "whisper")
    s = SttSettings(
        models=models,
        phone_rate=r.int("phone_rate", d.phone_rate, min=8000, max=48000),
        resample=resample,
        dither=r.float("dither", d.dither, min=0.0, max=10.0),
        beam=_optional(r, "beam", r.float("beam", d.beam, min=1.0, max=50.0)),
        max_active=_optional(r, "max_active", r.int("max_active", d.max_active, min=100, max=100000)),
        lattice_beam=_optional(r, "lattice_beam", r.float("lattice_beam", d.lattice_beam, min=0.5, max=20.0)),
        frames_per_chunk=r.int("frames_per_chunk", d.frames_per_chunk, min=3, max=300),
        partials=r.bool("partials", d.partials),
        endpoint=endpoint,
        vad=vad,
        max_streams=r.int("max_streams", d.max_streams, min=1, max=10000),
        threads=r.int("threads", d.threads, min=0, max=256),
        decode_nice=r.int("decode_nice", d.decode_nice, min=0, max=19),
        max_alternatives=r.int("max_alternatives", d.max_alternatives, min=0, max=20),
        max_file_seconds=r.float("max_file_seconds", d.max_file_seconds, min=1.0),
        low_confidence=r.float("low_confidence", d.low_confidence, min=0.0, max=1.0),
        work_dir=work_dir,
        # the other `domain_lm` keys belong to the LM build (stt.lm.settings validates them)
        domain_lm=r.bool("domain_lm.enabled", d.domain_lm),
        models_dir=config.reader("paths").path("models_dir", "models"),
        second_pass=second_pass,
    )
    r.done(known=KNOWN_KEYS)
    return s


def _read_models(r: SectionReader, config: Config) -> dict[int, Path | None]:
    raw = r.mapping("models", None)
    if raw is None:
        return {16000: None, 8000: None}
    models: dict[int, Path | None] = {}
    for key, value in raw.items():
        try:
            rate = int(key)
        except (TypeError, ValueError):
            r.error(f"models.{key}", "keys are sample rates in Hz, like 8000 or 16000")
            continue
        if not 8000 <= rate <= 48000:
            r.error(f"models.{key}", f"sample rate must be between 8000 and 48000, got {rate}")
        elif value is None:
            models[rate] = None
        elif not isinstance(value, str):
            r.error(f"models.{key}", f"expected a model folder path or null (bundled model), got {value!r}")
        else:
            path = config.resolve(value)
            if not path.is_dir():
                r.error(f"models.{key}", f"model folder does not exist: {path}")
            models[rate] = path
    if not models:
        r.error("models", "at least one sample rate must be configured")
    return models


def _optional(r: SectionReader, key: str, value: float | None) -> float | None:
    """An explicit null means "the model's own value"; an absent key means our tuned default."""
    return None if key in r.data and r.data[key] is None else value


def _check_sub(r: SectionReader, name: str, cls: type) -> None:
    sub = r.data.get(name)
    if sub is None:
        return
    if not isinstance(sub, dict):
        r.error(name, f"expected a mapping, got {sub!r}")
        return
    known = set(cls.__dataclass_fields__)
    for key in sub:
        if key not in known:
            r.error(f"{name}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
