"""The `stt.second_pass` keys of callbot.yml: which engine re-reads finished utterances, and how.

stt:
  second_pass:
    engine: whisper          # whisper | none
    model: bundled           # bundled | a CTranslate2 Whisper folder | a hub id or size name (downloads)
    device: cpu              # cpu | cuda | auto
    compute_type: int8
    beam_size: 1
    n_best: 3                # hypotheses kept for the bot (beams: max(beam_size, n_best)); 1 = off
    threads: 1               # threads per utterance
    workers: 2               # utterances read at once (the pool is bounded: no queue)
    window_seconds: 10
    speculate_after_ms: 100  # start reading after this much quiet, inside the endpoint window
    deadline_ms: 150         # a turn waits at most this long after the endpoint window
    nice_offset: 5           # readers run this much nicer than Vosk's decoding (stt.decode_nice)
    language: ko
    prompt: ""               # earlier text to bias the decoder (e.g. store names); "" = none
    guards: {...}            # see GuardSettings
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from callbot.config import SectionReader

ENGINE_NAMES = ("whisper", "none")  # the registry in stt.second_pass.engines must match
DEVICES = ("cpu", "cuda", "auto")
# Phrases Whisper is known to invent on silence, noise and music (its training data had subtitles):
# Korean broadcast sign-offs, subscription pleas, subtitle credits.
KNOWN_PHRASES = (
    "시청해 주셔서 감사합니다",
    "시청해주셔서 감사합니다",
    "구독과 좋아요",
    "구독 좋아요",
    "좋아요와 구독",
    "구독 부탁",
    "알림 설정",
    "다음 영상에서 만나요",
    "다음 영상에서 뵙겠습니다",
    "영상 끝까지 시청",
    "자막 제공",
    "한글자막",
    "자막 by",
    "MBC 뉴스",
    "KBS 뉴스",
    "SBS 뉴스",
    "YTN",
    "뉴스 이덕영입니다",
)


@dataclass(frozen=True)
class GuardSettings:
    """Thresholds of the hallucination guards (`stt.second_pass.guards`); see `stt.second_pass.guards`."""

    no_speech_prob: float = 0.6  # above this, with avg_logprob below `silence_logprob`: nothing was said
    silence_logprob: float = -1.0
    min_avg_logprob: float = -2.0  # below this the decoder was guessing, speech or not
    max_compression_ratio: float = 2.4  # repetitive loops compress well
    max_chars_per_second: float = 14.0  # more syllables than a fast talker says in the audio's length
    max_repeats: int = 3  # the same phrase of 2+ syllables this many times in a row
    phrases: tuple[str, ...] = KNOWN_PHRASES


@dataclass(frozen=True)
class SecondPassSettings:
    engine: str = "whisper"
    model: str = "bundled"
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 1
    # Hypotheses handed on with the text (Reading.alternatives -> UserText.alternatives): the bot re-reads
    # a refused or unsure turn with them. Beam search runs with max(beam_size, n_best) beams; 1 = off.
    n_best: int = 3
    threads: int = 1
    workers: int = 2
    window_seconds: float = 10.0
    speculate_after_ms: int = 100
    deadline_ms: int = 150
    # Readers run this much nicer than Vosk's decoding threads (stt.decode_nice, at most 19): when the
    # cores are short, the streaming pass keeps up and readings come late (the turn uses Vosk's text)
    # instead of every caller's final waiting behind them.
    nice_offset: int = 5
    language: str = "ko"
    prompt: str = ""
    guards: GuardSettings = field(default_factory=GuardSettings)
    cache_dir: Path = Path("var/stt/whisper")  # <stt.work_dir>/whisper: assembled and downloaded models

    @property
    def enabled(self) -> bool:
        return self.engine != "none"


_KEYS = set(SecondPassSettings.__dataclass_fields__) - {"guards", "cache_dir"}
_GUARD_KEYS = set(GuardSettings.__dataclass_fields__)


def read_second_pass(r: SectionReader, cache_dir: Path) -> SecondPassSettings:
    """Validate `stt.second_pass` (errors are collected in the stt section's reader `r`)."""
    d = SecondPassSettings()
    g = GuardSettings()
    sub = r.data.get("second_pass")
    if sub is not None and not isinstance(sub, dict):
        r.error("second_pass", f"expected a mapping, got {sub!r}")
        return SecondPassSettings(cache_dir=cache_dir)
    for key in sub or {}:
        if key not in _KEYS | {"guards"}:
            r.error(f"second_pass.{key}", f"unknown key (known: {', '.join(sorted(_KEYS | {'guards'}))})")
    guards_raw = (sub or {}).get("guards")
    if guards_raw is not None and not isinstance(guards_raw, dict):
        r.error("second_pass.guards", f"expected a mapping, got {guards_raw!r}")
    for key in guards_raw if isinstance(guards_raw, dict) else {}:
        if key not in _GUARD_KEYS:
            r.error(f"second_pass.guards.{key}", f"unknown key (known: {', '.join(sorted(_GUARD_KEYS))})")
    k = "second_pass."
    guards = GuardSettings(
        no_speech_prob=r.float(k + "guards.no_speech_prob", g.no_speech_prob, min=0.0, max=1.0),
        silence_logprob=r.float(k + "guards.silence_logprob", g.silence_logprob, max=0.0),
        min_avg_logprob=r.float(k + "guards.min_avg_logprob", g.min_avg_logprob, max=0.0),
        max_compression_ratio=r.float(k + "guards.max_compression_ratio", g.max_compression_ratio, min=1.0),
        max_chars_per_second=r.float(k + "guards.max_chars_per_second", g.max_chars_per_second, min=1.0),
        max_repeats=r.int(k + "guards.max_repeats", g.max_repeats, min=2),
        phrases=tuple(r.str_list(k + "guards.phrases", list(g.phrases))),
    )
    model = r.str(k + "model", d.model)
    if isinstance(model, str) and not model.strip():
        r.error(k + "model", "expected 'bundled', a model folder or a hub id")
    elif isinstance(model, str) and model != d.model and r.config.resolve(model).is_dir():
        model = str(r.config.resolve(model))  # a folder, relative to callbot.yml
    return SecondPassSettings(
        engine=r.str(k + "engine", d.engine, choices=ENGINE_NAMES),
        model=model,
        device=r.str(k + "device", d.device, choices=DEVICES),
        compute_type=r.str(k + "compute_type", d.compute_type),
        beam_size=r.int(k + "beam_size", d.beam_size, min=1, max=10),
        n_best=r.int(k + "n_best", d.n_best, min=1, max=10),
        threads=r.int(k + "threads", d.threads, min=1, max=64),
        workers=r.int(k + "workers", d.workers, min=1, max=64),
        window_seconds=r.float(k + "window_seconds", d.window_seconds, min=5.0, max=30.0),
        speculate_after_ms=r.int(k + "speculate_after_ms", d.speculate_after_ms, min=0, max=5000),
        deadline_ms=r.int(k + "deadline_ms", d.deadline_ms, min=0, max=10000),
        nice_offset=r.int(k + "nice_offset", d.nice_offset, min=0, max=19),
        language=r.str(k + "language", d.language),
        prompt=r.str(k + "prompt", d.prompt),
        guards=guards,
        cache_dir=cache_dir,
    )
