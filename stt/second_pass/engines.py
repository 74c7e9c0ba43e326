"""Second-pass engines: re-read one finished utterance. One interface, engines registered by name.

`stt.second_pass.engine` names one of `ENGINES`; `none` (no engine) leaves Vosk's text as it is.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from stt.audio import resample_float
from stt.second_pass.guards import judge
from stt.second_pass.settings import SecondPassSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """A second pass's text for one utterance, and whether the guards let it be used."""

    text: str
    confidence: float  # exp(mean token log-probability) for Whisper
    rejected: str | None  # the guard that fired ("no_speech", "repeats", ...), None when usable
    seconds: float  # time spent reading (features + encoder + decoder)
    audio_seconds: float
    # n-best (`stt.second_pass.n_best` > 1): (text, posterior) of each distinct hypothesis that passes the
    # guards, `text` first, as in `callbot.events.Transcript.alternatives`; () without n-best.
    alternatives: tuple[tuple[str, float], ...] = ()


class SecondPassEngine(ABC):
    """Reads one utterance's audio. Implementations must allow `read` from several threads at once."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def load(cls, settings: SecondPassSettings) -> SecondPassEngine:
        """Load the model once (shared by every call); raises `stt.ModelError` with what to do."""

    @abstractmethod
    def read(
        self, pcm16: bytes, sample_rate: int, prompt: str = "", cancelled: Callable[[], bool] | None = None
    ) -> Reading | None:
        """The engine's text for int16 mono `pcm16`; None when `cancelled()` became true meanwhile."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model (optional)."""


class WhisperEngine(SecondPassEngine):
    """Whisper (CTranslate2) with the hallucination guards of `stt.second_pass.guards`."""

    name = "whisper"

    def __init__(self, decoder, settings: SecondPassSettings) -> None:  # noqa: ANN001 - WhisperDecoder
        self.decoder = decoder
        self.settings = settings

    @classmethod
    def load(cls, settings: SecondPassSettings) -> WhisperEngine:
        from stt.whisper.assets import resolve_model
        from stt.whisper.decoder import WhisperDecoder, WhisperOptions

        folder = resolve_model(settings.model, settings.cache_dir)
        options = WhisperOptions(
            device=settings.device,
            compute_type=settings.compute_type,
            beam_size=settings.beam_size,
            threads=settings.threads,
            workers=settings.workers,
            window_seconds=settings.window_seconds,
            language=settings.language,
            n_best=settings.n_best,
        )
        return cls(WhisperDecoder(folder, options), settings)

    def read(
        self, pcm16: bytes, sample_rate: int, prompt: str = "", cancelled: Callable[[], bool] | None = None
    ) -> Reading | None:
        audio = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
        if sample_rate != 16000:
            audio = resample_float(audio, sample_rate, 16000).astype(np.float32)
        hyp = self.decoder.transcribe(audio, prompt or self.settings.prompt, cancelled)
        if hyp is None:
            return None
        rejected = judge(hyp, self.settings.guards)
        if rejected:
            logger.info(
                "stt.second_pass.rejected reason=%s text=%r avg_logprob=%.2f no_speech=%.2f",
                rejected,
                hyp.text[:80],
                hyp.avg_logprob,
                hyp.no_speech_prob,
            )
        return Reading(
            text=hyp.text,
            confidence=round(math.exp(min(0.0, hyp.avg_logprob)), 4),
            rejected=rejected,
            seconds=hyp.decode_seconds,
            audio_seconds=hyp.audio_seconds,
            alternatives=self._alternatives(hyp),
        )

    def _alternatives(self, hyp) -> tuple[tuple[str, float], ...]:  # noqa: ANN001 - Hypothesis
        """The n-best list: the best hypothesis, then each other one the guards let through (a hypothesis
        Whisper made up is no more the caller's words as a second guess than as the first)."""
        if self.settings.n_best <= 1:
            return ()
        kept = [(hyp.text, hyp.posterior)]
        for other in hyp.others:
            if (reason := judge(other, self.settings.guards)) is None:
                kept.append((other.text, other.posterior))
            else:
                logger.debug(
                    "stt.second_pass.alternative_rejected reason=%s text=%r", reason, other.text[:80]
                )
        return tuple(kept)


# name -> engine class; `none` is the absence of a second pass (stt.second_pass.settings.ENGINE_NAMES).
ENGINES: dict[str, type[SecondPassEngine] | None] = {"whisper": WhisperEngine, "none": None}
