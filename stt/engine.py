"""Vosk recognition: one loaded model per configured sample rate, one `RecognitionStream` per call.

`RecognitionStream.accept` blocks (Vosk decodes in C with the GIL released); async callers go through
`DecodePool.run`, a thread pool sized to the cores. An energy gate (`stt.vad`) keeps silence away from
the decoder and ends utterances; Vosk's own endpoint rules still apply inside long speech. The pool runs
the cheap gate on the caller's thread: silence never waits for a decode thread, and a chunk that ends an
utterance is decoded before other calls' speech (the caller is waiting for the reply).
Phone-rate streams use the trained domain LM of `models/current` when there is one (`model_sources`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import vosk

from callbot.config import Config
from callbot.events import Transcript, Word
from stt import AudioError, ModelError, SttCapacityError, SttError
from stt.config import SttSettings, read_stt_settings
from stt.decode_pool import DecodePool
from stt.models import bundled_model_path, derived_model, model_rate, model_sources
from stt.second_pass.pool import SecondPass
from stt.vad import EnergyGate, GateEvent, SpeechAudio, SpeechEnd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    path: Path  # the derived folder actually loaded
    source: Path  # the configured (or bundled) folder
    rate: int  # the rate the model was trained on
    model: vosk.Model

    @property
    def static_graph(self) -> bool:
        """A precompiled graph/HCLG.fst (shared, nothing composed while decoding), not HCLr o Gr."""
        return (self.path / "graph" / "HCLG.fst").is_file()


def load_model(source: Path | None, settings: SttSettings) -> LoadedModel:
    """Load `source` (None: the bundled Korean model) through a derived folder carrying the settings."""
    src = source or bundled_model_path()
    folder = derived_model(src, settings)
    vosk.SetLogLevel(-1)
    try:
        model = vosk.Model(str(folder))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(f"{src}: Vosk failed to load the model ({exc})") from exc
    logger.info("stt.model.loaded source=%s rate=%d", src, model_rate(src))
    return LoadedModel(path=folder, source=src, rate=model_rate(src), model=model)


@dataclass
class _Decoder:
    """A Vosk recognizer and its clock: Vosk times words by all the audio it was ever given."""

    rec: vosk.KaldiRecognizer
    key: tuple[int, int]  # (model id, input rate): which streams may reuse it
    seconds: float = 0.0


def reader_nice(settings: SttSettings) -> int:
    """The second pass's readers' nice value: Vosk's decoding threads' plus `second_pass.nice_offset`."""
    return min(19, settings.decode_nice + settings.second_pass.nice_offset)


class SpeechRecognizer:
    """Holds the loaded models (shared by every call) and hands out per-call streams within capacity.

    Recognizers of finished calls are kept and reused: a Vosk recognizer caches the parts of the
    decoding graph it has expanded, so a fresh one decodes its first utterances several times slower.
    """

    def __init__(
        self,
        settings: SttSettings,
        models: dict[int, LoadedModel],
        second_pass: SecondPass | None = None,
    ) -> None:
        if not models:
            raise ModelError("no speech model configured (stt.models is empty)")
        self.settings = settings
        self.models = models
        # Re-reads each finished utterance (`stt.second_pass`); shared with a recognizer that replaces
        # this one on reload (`hand_over_second_pass`), closed by whichever owns it last.
        self.second_pass = second_pass
        self._owns_second_pass = second_pass is not None
        self.pool = DecodePool(settings.thread_count, nice=settings.decode_nice)
        self._lock = threading.Lock()
        self._active = 0
        self._idle: list[_Decoder] = []

    @classmethod
    def from_config(cls, config: Config) -> SpeechRecognizer:
        return cls.from_settings(read_stt_settings(config))

    @classmethod
    def from_settings(cls, settings: SttSettings) -> SpeechRecognizer:
        """Load each model once (see `model_sources`); rates with the same folder share one model.
        The second pass's model (`stt.second_pass`) is loaded too."""
        loaded: dict[Path | None, LoadedModel] = {}
        models: dict[int, LoadedModel] = {}
        for rate, source in model_sources(settings).items():
            key = source.resolve() if source else None
            if key not in loaded:
                loaded[key] = load_model(source, settings)
            models[rate] = loaded[key]
        return cls(settings, models, SecondPass.load(settings.second_pass, nice=reader_nice(settings)))

    def hand_over_second_pass(self) -> SecondPass | None:
        """Give the second pass to a recognizer replacing this one (it keeps serving this one's calls)."""
        self._owns_second_pass = False
        return self.second_pass

    @property
    def active_streams(self) -> int:
        return self._active

    def stream(self, sample_rate: int, grammar: list[str] | None = None) -> RecognitionStream:
        """A new recognizer for one call's audio at `sample_rate`; `SttCapacityError` when full."""
        model = self.models.get(sample_rate)
        if model is None:
            rates = ", ".join(str(r) for r in sorted(self.models))
            raise SttError(f"no speech model for {sample_rate} Hz audio (stt.models has: {rates})")
        with self._lock:
            if self._active >= self.settings.max_streams:
                raise SttCapacityError(
                    f"all {self.settings.max_streams} recognition streams are in use (stt.max_streams)"
                )
            self._active += 1
        try:
            return RecognitionStream(self, model, sample_rate, grammar)
        except BaseException:
            self._release(None)
            raise

    def warm(self, count: int, pcm16: bytes, sample_rate: int) -> int:
        """Decode `pcm16` through `count` recognizers at once and keep them for reuse; returns how many.

        A new Vosk recognizer of a lookahead graph composes its part of the graph as it decodes, so its
        first utterances cost ~3x the CPU of later ones; warming them at startup (with speech like the
        callers') keeps that cost, and the decode backlog it causes, away from the first calls. A
        static graph (graph/HCLG.fst, `stt.lm.static_graph`) has no such cost: nothing to warm, 0.
        """
        model = self.models.get(sample_rate)
        if model is not None and model.static_graph:
            logger.info("stt.warm.skipped reason=static graph %s", model.path)
            return 0
        streams: list[RecognitionStream] = []
        try:
            for _ in range(min(count, self.settings.max_streams - self._active)):
                streams.append(self.stream(sample_rate))
            step = sample_rate  # half-second chunks, through the gate like live audio
            pieces = [pcm16[i : i + step] for i in range(0, len(pcm16) - len(pcm16) % 2, step)]

            def decode(stream: RecognitionStream) -> None:
                for piece in pieces:
                    stream.accept(piece)
                stream.flush()

            with ThreadPoolExecutor(self.settings.thread_count, thread_name_prefix="stt-warm") as ex:
                list(ex.map(decode, streams))
        finally:
            for stream in streams:
                stream.close()
        logger.info("stt.warm.done recognizers=%d seconds=%.1f", len(streams), len(pcm16) / 2 / sample_rate)
        return len(streams)

    def close(self) -> None:
        self.pool.close()
        if self.second_pass is not None and self._owns_second_pass:
            self.second_pass.close()
        with self._lock:
            self._idle.clear()

    def _release(self, decoder: _Decoder | None) -> None:
        with self._lock:
            self._active = max(0, self._active - 1)
            if decoder is not None and len(self._idle) < self.settings.max_streams:
                self._idle.append(decoder)

    def _reuse(self, key: tuple[int, int]) -> _Decoder | None:
        with self._lock:  # the most recently used first: its graph cache is the warmest
            for i in range(len(self._idle) - 1, -1, -1):
                if self._idle[i].key == key:
                    return self._idle.pop(i)
        return None


class RecognitionStream:
    """One caller's audio -> partial and final `Transcript`s. Not shared between threads at once."""

    def __init__(
        self, owner: SpeechRecognizer, model: LoadedModel, sample_rate: int, grammar: list[str] | None
    ) -> None:
        s = owner.settings
        self.sample_rate = sample_rate
        self._owner = owner
        self._model = model
        self._grammar = json.dumps(grammar, ensure_ascii=False) if grammar else None
        self._via_soxr = sample_rate != model.rate and s.resample == "soxr"
        second = owner.second_pass
        pause_ms = second.settings.speculate_after_ms if second is not None else 0
        self._gate = EnergyGate(s.vad, sample_rate, pause_ms) if s.vad.enabled else None
        self._lock = threading.Lock()  # the decoder: held for whole decodes, on a decode thread
        # The gate's own state: `gate` runs on the event loop for every frame and must never wait for
        # a decode of the same call in flight (that stalled the loop, and every call, for its length).
        # Methods needing both take `_gate_lock` first.
        self._gate_lock = threading.Lock()
        self._closed = False
        self._offset = 0.0  # seconds to add to decoder times to get input-stream times
        self._position = 0  # input samples received
        self._pending = False  # audio decoded since the last final
        self._last_partial = ""
        # Where the energy gate last closed (input sample index: the utterance ended there) and when the
        # latest `accept` began decoding (time.monotonic()): what callers need to time their turns.
        self.endpoint_sample: int | None = None
        self.decode_started = 0.0
        self._decoder = self._new_decoder()
        self._rec = self._decoder.rec
        self._resampler = self._new_resampler()

    def accept(self, pcm16: bytes) -> list[Transcript]:
        """Decode a chunk of 16-bit mono PCM; returns new partials (changed text only) and finals."""
        return self.decode(self.gate(pcm16))

    def gate(self, pcm16: bytes) -> list[GateEvent]:
        """The cheap half of `accept` (no decoder): the speech to decode and utterance ends in a chunk."""
        if len(pcm16) % 2:
            raise AudioError(f"PCM16 chunk has an odd number of bytes ({len(pcm16)})")
        with self._gate_lock:
            self._check_open()
            start = self._position
            self._position += len(pcm16) // 2
            if self._gate is None:
                return [SpeechAudio(pcm16, start)]
            return self._gate.push(pcm16)

    def decode(self, events: list[GateEvent]) -> list[Transcript]:
        """The blocking half of `accept`: decode what `gate` let through, in order, and finish utterances."""
        with self._lock:
            self._check_open()
            self.decode_started = time.monotonic()
            out: list[Transcript] = []
            for i, event in enumerate(events):
                if isinstance(event, SpeechAudio):
                    # No partial for audio whose utterance ends in this same chunk: the final follows.
                    ending = any(isinstance(e, SpeechEnd) for e in events[i + 1 :])
                    out.extend(self._decode(event.pcm, event.start, partial=not ending))
                    continue
                if not isinstance(event, SpeechEnd):
                    continue  # pauses are for the second pass
                self.endpoint_sample = event.end
                if (final := self._finish()) is not None:
                    out.append(final)
            return out

    def flush(self) -> Transcript | None:
        """End of input: the final transcript of whatever is still undecided, if anything was said."""
        with self._gate_lock:
            self._check_open()
            tail = self._gate.flush() if self._gate is not None else []
        with self._lock:
            self._check_open()
            for event in tail:
                if isinstance(event, SpeechAudio):
                    self._decode(event.pcm, event.start)
            return self._finish()

    def reset(self) -> None:
        """Drop the current utterance (e.g. the caller barged in on a prompt) and start afresh."""
        with self._gate_lock, self._lock:
            self._check_open()
            self._rec.FinalResult()  # (not Reset: a finalized recognizer restarts its clock cleanly)
            if self._gate is not None:
                self._gate.reset()
                self._gate._position = self._position
            self._resampler = self._new_resampler()
            self._pending = False
            self._last_partial = ""

    def close(self) -> None:
        """Give the capacity slot (and the recognizer, for reuse) back; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            reusable = self._grammar is None
            if reusable:
                if self._pending:
                    self._flush_resampler()
                self._finalize()
            self._owner._release(self._decoder if reusable else None)

    def __enter__(self) -> RecognitionStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _finalize(self) -> None:
        """Leave the recognizer with nothing of this call in it, as a new one would be.

        After an utterance that Vosk itself ended (`AcceptWaveform` true, then `Result`), a recognizer keeps
        its feature pipeline (the online iVector and CMVN statistics of the speaker) for the next
        utterance, and `FinalResult` alone does nothing in that state. Handed to the next call as it is, it
        changed that caller's words ("... 가격" became "... 가결"). An empty chunk restarts the utterance
        and `FinalResult` then drops the pipeline: the next call starts afresh.
        """
        self._rec.AcceptWaveform(b"")
        self._rec.FinalResult()
        self._pending = False

    def _check_open(self) -> None:
        if self._closed:
            raise SttError("recognition stream is closed")

    def _new_decoder(self) -> _Decoder:
        rate = self._model.rate if self._via_soxr else self.sample_rate
        key = (id(self._model.model), self.sample_rate)
        if self._grammar is None and (reused := self._owner._reuse(key)) is not None:
            return reused
        model = self._model.model
        try:
            rec = (
                vosk.KaldiRecognizer(model, rate, self._grammar)
                if self._grammar
                else vosk.KaldiRecognizer(model, rate)
            )
        except Exception as exc:
            raise ModelError(f"{self._model.source}: cannot create a recognizer ({exc})") from exc
        rec.SetWords(True)
        if self._owner.settings.max_alternatives:
            rec.SetMaxAlternatives(self._owner.settings.max_alternatives)
        return _Decoder(rec=rec, key=key)

    def _new_resampler(self) -> soxr.ResampleStream | None:
        if not self._via_soxr:
            return None
        return soxr.ResampleStream(self.sample_rate, self._model.rate, 1, dtype="int16", quality="HQ")

    def _decode(self, pcm: bytes, start: int, partial: bool = True) -> list[Transcript]:
        if not self._pending:  # a new utterance: map decoder time back to input time
            self._offset = start / self.sample_rate - self._decoder.seconds
        self._decoder.seconds += len(pcm) / 2 / self.sample_rate
        self._pending = True
        data = pcm
        if self._resampler is not None:
            data = self._resampler.resample_chunk(np.frombuffer(pcm, dtype="<i2")).tobytes()
        if self._rec.AcceptWaveform(data):
            self._pending = False
            self._last_partial = ""
            final = self._parse(json.loads(self._rec.Result()))
            return [final] if final.text else []
        if not (partial and self._owner.settings.partials):
            return []
        text = json.loads(self._rec.PartialResult()).get("partial", "")
        if not text or text == self._last_partial:
            return []
        self._last_partial = text
        return [Transcript(text=text, final=False)]

    def _finish(self) -> Transcript | None:
        if not self._pending:
            return None
        if self._resampler is not None:
            self._flush_resampler()
        self._pending = False
        self._last_partial = ""
        final = self._parse(json.loads(self._rec.FinalResult()))
        return final if final.text else None

    def _flush_resampler(self) -> None:
        """Push the soxr stream's delayed samples into the decoder (already counted on its clock)."""
        if self._resampler is None:
            return
        tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._resampler = self._new_resampler()
        if tail.size:
            self._rec.AcceptWaveform(tail.tobytes())

    def _parse(self, result: dict[str, Any]) -> Transcript:
        return parse_result(result, self._offset)


def parse_result(result: dict[str, Any], offset: float = 0.0) -> Transcript:
    """A Vosk final result (plain, or n-best `alternatives`) -> a final `Transcript`.

    Plain results: confidence is the mean word confidence. N-best results carry total lattice scores;
    they are turned into posteriors over the listed alternatives, and the best one's is the confidence.
    """
    if "alternatives" in result:
        alts = [a for a in result["alternatives"] if a.get("text")]
        if not alts:
            return Transcript(text="", final=True)
        scores = [float(a.get("confidence", 0.0)) for a in alts]
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        total = sum(weights)
        posts = [w / total for w in weights]
        words = _words(alts[0].get("result", []), offset, posts[0])
        return Transcript(
            text=alts[0]["text"],
            final=True,
            confidence=posts[0],
            words=words,
            alternatives=tuple((a["text"], p) for a, p in zip(alts, posts, strict=True)),
        )
    words = _words(result.get("result", []), offset, None)
    conf = sum(w.confidence for w in words) / len(words) if words else 0.0
    return Transcript(text=result.get("text", ""), final=True, confidence=conf, words=words)


def _words(items: list[dict[str, Any]], offset: float, default_conf: float | None) -> tuple[Word, ...]:
    return tuple(
        Word(
            word=w["word"],
            start=round(float(w["start"]) + offset, 3),
            end=round(float(w["end"]) + offset, 3),
            confidence=float(w.get("conf", default_conf if default_conf is not None else 0.0)),
        )
        for w in items
    )
