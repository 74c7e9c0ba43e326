"""Whisper through CTranslate2: one finished utterance (16 kHz float audio) -> a scored hypothesis,
and with `n_best` > 1 the beam's other hypotheses, each with its posterior over the listed ones.

The encoder's cost is the window, not the speech: Whisper pads everything to 30 s, which costs about
1 s of CPU per utterance here. Padding to a fixed 10 s window costs a third of that at the same error
rate on phone speech; padding only to the speech's own length makes Whisper loop and repeat itself, and
8 s broke on several clips (both measured on real read speech). Longer utterances get the next 10 s step.
Encoding and decoding are two calls, so a speculative job that is no longer wanted stops between them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stt.whisper.assets import WhisperModelError
from stt.whisper.features import SAMPLE_RATE, window_features

logger = logging.getLogger(__name__)

MAX_TOKENS = 448  # the decoder's context, prompt included
PROMPT_TOKENS = 223  # at most this much earlier text goes into a prompt (as in OpenAI's decoder)


@dataclass(frozen=True)
class WhisperOptions:
    device: str = "cpu"  # cpu | cuda | auto
    compute_type: str = "int8"
    beam_size: int = 1
    threads: int = 1  # CTranslate2 threads per utterance (intra_threads)
    workers: int = 2  # utterances decoded at once (inter_threads)
    window_seconds: float = 10.0
    language: str = "ko"
    tokens_per_second: float = 15.0  # decoding stops after this many tokens per second of audio (+8)
    n_best: int = 1  # hypotheses returned (beam search runs with max(beam_size, n_best) beams)


@dataclass(frozen=True)
class Hypothesis:
    """What Whisper heard in one utterance, with the scores the hallucination guards judge."""

    text: str
    tokens: int
    avg_logprob: float  # mean log-probability per generated token
    no_speech_prob: float  # probability of the no-speech token at the first step
    compression_ratio: float  # bytes of text / bytes of its zlib compression: loops compress well
    audio_seconds: float
    decode_seconds: float
    posterior: float = 1.0  # its share of the probability of the hypotheses listed (n-best), else 1
    others: tuple[Hypothesis, ...] = ()  # n-best: the decoder's other hypotheses, distinct texts, in order


def posteriors(total_logprobs: list[float]) -> list[float]:
    """Summed log-probabilities of the listed hypotheses -> their shares of the listed probability mass."""
    if not total_logprobs:
        return []
    top = max(total_logprobs)
    weights = [math.exp(s - top) for s in total_logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


class WhisperDecoder:
    """A loaded CTranslate2 Whisper model and its tokenizer; `transcribe` may run on several threads."""

    def __init__(self, folder: Path, options: WhisperOptions) -> None:
        import ctranslate2
        import tokenizers

        device = options.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        supported = ctranslate2.get_supported_compute_types(device)
        if options.compute_type not in (*supported, "default", "auto"):
            raise WhisperModelError(
                f"stt.second_pass.compute_type: {options.compute_type!r} is not supported on {device} "
                f"here (supported: {', '.join(sorted(supported))})"
            )
        try:
            self.model = ctranslate2.models.Whisper(
                str(folder),
                device=device,
                compute_type=options.compute_type,
                intra_threads=options.threads,
                inter_threads=options.workers,
            )
            self.tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        except (RuntimeError, ValueError, OSError, Exception) as exc:
            raise WhisperModelError(f"{folder}: CTranslate2 cannot load this Whisper model ({exc})") from exc
        self.folder = folder
        self.device = device
        self.options = options
        self.n_mels = int(getattr(self.model, "n_mels", 80) or 80)
        special = {
            name: self.tokenizer.token_to_id(name)
            for name in (
                "<|startoftranscript|>",
                "<|transcribe|>",
                "<|notimestamps|>",
                "<|startofprev|>",
                "<|endoftext|>",
            )
        }
        language = self.tokenizer.token_to_id(f"<|{options.language}|>")
        if language is None or None in special.values():
            raise WhisperModelError(
                f"{folder}: the tokenizer lacks Whisper's special tokens (or <|{options.language}|>): "
                "is this a multilingual Whisper model?"
            )
        self._sot = [
            special["<|startoftranscript|>"],
            language,
            special["<|transcribe|>"],
            special["<|notimestamps|>"],
        ]
        self._prev = special["<|startofprev|>"]
        self._eot = special["<|endoftext|>"]
        logger.info(
            "stt.whisper.loaded folder=%s device=%s compute_type=%s", folder, device, options.compute_type
        )

    def prompt_tokens(self, prompt: str) -> list[int]:
        """The decoder prompt: earlier text (if any) after <|startofprev|>, then the task tokens."""
        if not prompt.strip():
            return list(self._sot)
        ids = self.tokenizer.encode(" " + prompt.strip(), add_special_tokens=False).ids[-PROMPT_TOKENS:]
        return [self._prev, *ids, *self._sot]

    def transcribe(
        self, audio: np.ndarray, prompt: str = "", cancelled: Callable[[], bool] | None = None
    ) -> Hypothesis | None:
        """Decode 16 kHz float32 audio; None when `cancelled()` turned true before decoding began."""
        import ctranslate2

        started = time.perf_counter()
        seconds = len(audio) / SAMPLE_RATE
        features = window_features(audio, self.options.window_seconds, self.n_mels)
        encoded = self.model.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)
        if cancelled is not None and cancelled():
            return None
        prompt_ids = self.prompt_tokens(prompt)
        budget = int(8 + self.options.tokens_per_second * seconds)
        n_best = max(1, self.options.n_best)
        result = self.model.generate(
            encoded,
            [prompt_ids],
            beam_size=max(self.options.beam_size, n_best),
            num_hypotheses=n_best,
            max_length=min(MAX_TOKENS, len(prompt_ids) + budget),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        no_speech = float(result.no_speech_prob)
        decoded = []  # (text, tokens, avg_logprob, summed log-probability), the decoder's order
        for n, sequence in enumerate(result.sequences_ids):
            ids = [i for i in sequence if i < self._eot]
            score = float(result.scores[n]) if n < len(result.scores) else 0.0
            # CTranslate2's score is the summed log-probability divided by the length (length_penalty 1);
            # like OpenAI's decoder, average over the tokens plus the end of text.
            avg_logprob = score * len(ids) / (len(ids) + 1) if ids else score
            decoded.append(
                (self.tokenizer.decode(ids).strip(), len(ids), avg_logprob, score * max(len(ids), 1))
            )
        shares = posteriors([total for *_, total in decoded])
        # One text reached by several token sequences is one hypothesis: it keeps its first place and
        # scores, and the probability of every sequence that spells it.
        merged: dict[str, list] = {}
        for (text, tokens, avg_logprob, _total), share in zip(decoded, shares, strict=True):
            if text in merged:
                merged[text][3] += share
            else:
                merged[text] = [text, tokens, avg_logprob, share]
        elapsed = time.perf_counter() - started
        if not merged:  # (CTranslate2 returns num_hypotheses sequences; this is only a safe floor)
            merged[""] = ["", 0, 0.0, 1.0]
        hyps = [
            Hypothesis(
                text=text,
                tokens=tokens,
                avg_logprob=avg_logprob,
                no_speech_prob=no_speech,
                compression_ratio=compression_ratio(text),
                audio_seconds=seconds,
                decode_seconds=elapsed,
                posterior=round(share, 4) if n_best > 1 else 1.0,
            )
            for text, tokens, avg_logprob, share in merged.values()
        ]
        return dataclasses.replace(hyps[0], others=tuple(hyps[1:]))
