"""Real Vosk decoding of espeak-ng clips through the bundled Korean model (shared, loaded once)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from callbot.events import Transcript
from stt import SttCapacityError, SttError
from stt.audio import from_telephone, read_audio, to_telephone
from stt.engine import SpeechRecognizer, parse_result

pytestmark = pytest.mark.slow


def _padded(pcm: np.ndarray, rate: int, before: float = 1.0, after: float = 1.0) -> bytes:
    pad = lambda s: np.zeros(int(rate * s), np.int16)  # noqa: E731
    return np.concatenate([pad(before), pcm, pad(after)]).astype("<i2").tobytes()


def _feed(stream, data: bytes, rate: int, chunk_s: float = 0.02) -> list[Transcript]:
    step = int(rate * chunk_s) * 2
    out: list[Transcript] = []
    for i in range(0, len(data), step):
        out.extend(stream.accept(data[i : i + step]))
    return out


def test_streaming_gives_partials_then_a_final_with_word_times(recognizer: SpeechRecognizer, clips) -> None:
    pcm = read_audio(clips["hello"], 16000)
    with recognizer.stream(16000) as stream:
        events = _feed(stream, _padded(pcm, 16000, before=1.0, after=1.0), 16000)
        tail = stream.flush()
    assert tail is None  # the trailing second of silence already ended the utterance (VAD hangover)
    finals = [e for e in events if e.final]
    assert len(finals) == 1 and finals[0].text
    first_final = events.index(finals[0])
    assert first_final > 0 and all(not e.final and e.text for e in events[:first_final])
    final = finals[0]
    assert 0.0 < final.confidence <= 1.0
    assert final.confidence == pytest.approx(sum(w.confidence for w in final.words) / len(final.words))
    speech_end = 1.0 + len(pcm) / 16000
    # times are in the input stream's clock, although the leading silence was never decoded
    assert 0.8 <= final.words[0].start and final.words[-1].end <= speech_end + 0.3
    assert all(a.end <= b.start + 1e-6 for a, b in zip(final.words, final.words[1:], strict=False))


def test_a_reused_recognizer_gives_the_same_words_and_times(recognizer: SpeechRecognizer, clips) -> None:
    data = _padded(read_audio(clips["cancel"], 8000), 8000, before=1.5, after=1.0)
    results, decoders = [], []
    for _ in range(2):
        with recognizer.stream(8000) as stream:
            decoders.append(stream._decoder)
            results.append([e for e in _feed(stream, data, 8000) if e.final])
    assert decoders[0] is decoders[1]  # the finished call's recognizer was handed to the next call
    assert results[0] == results[1] and results[0][0].words[0].start >= 1.3


def test_two_utterances_are_two_finals_at_their_times(recognizer: SpeechRecognizer, clips) -> None:
    a, b = read_audio(clips["hello"], 8000), read_audio(clips["cancel"], 8000)
    second_at = 1.0 + len(a) / 8000 + 1.5
    data = _padded(a, 8000, 1.0, 1.5) + _padded(b, 8000, 0.0, 1.0)
    with recognizer.stream(8000) as stream:
        finals = [e for e in _feed(stream, data, 8000) if e.final]
    assert len(finals) == 2
    assert finals[0].words[-1].end < second_at <= finals[1].words[0].start + 0.25


def test_phone_path_audio_is_recognized(recognizer: SpeechRecognizer, clips) -> None:
    ulaw = to_telephone(read_audio(clips["hours"], 16000), 16000)
    pcm8 = from_telephone(ulaw, 8000)
    with recognizer.stream(8000) as stream:
        events = _feed(stream, pcm8.tobytes(), 8000)
        last = stream.flush()
    finals = [e for e in events if e.final] + ([last] if last else [])
    assert finals and all(f.text for f in finals)


def test_decoding_is_reproducible(recognizer: SpeechRecognizer, clips) -> None:
    data = read_audio(clips["hours"], 16000).tobytes()
    texts = []
    for _ in range(2):
        with recognizer.stream(16000) as stream:
            _feed(stream, data, 16000, chunk_s=0.2)
            texts.append(stream.flush())
    assert texts[0] is not None and texts[0] == texts[1]


def test_silence_is_not_decoded(recognizer: SpeechRecognizer) -> None:
    rng = np.random.default_rng(0)
    hiss = rng.normal(0, 30, 8000 * 5).astype(np.int16)  # -60 dBFS line noise
    with recognizer.stream(8000) as stream:
        clock = stream._decoder.seconds
        assert _feed(stream, hiss.tobytes(), 8000) == []
        assert stream.flush() is None
        assert stream._decoder.seconds == clock  # the decoder was given nothing


def test_grammar_limits_the_words(recognizer: SpeechRecognizer, clips) -> None:
    data = read_audio(clips["hello"], 16000).tobytes()
    vocabulary = ["안녕하세요", "예약", "취소"]
    with recognizer.stream(16000, grammar=vocabulary) as stream:
        _feed(stream, data, 16000, chunk_s=0.2)
        final = stream.flush()
    assert final is not None
    assert set(final.text.split()) <= set(vocabulary)
    assert final.text.startswith("안녕하세요")


def test_alternatives_when_n_best_is_enabled(stt_settings, recognizer: SpeechRecognizer, clips) -> None:
    nbest = SpeechRecognizer(dataclasses.replace(stt_settings, max_alternatives=3), recognizer.models)
    try:
        with nbest.stream(16000) as stream:
            _feed(stream, read_audio(clips["cancel"], 16000).tobytes(), 16000, chunk_s=0.2)
            final = stream.flush()
    finally:
        nbest.close()
    assert final is not None and 1 <= len(final.alternatives) <= 3
    assert final.alternatives[0][0] == final.text
    assert final.confidence == pytest.approx(final.alternatives[0][1])
    assert sum(p for _, p in final.alternatives) == pytest.approx(1.0)


def test_reset_drops_the_current_utterance(recognizer: SpeechRecognizer, clips) -> None:
    pcm = read_audio(clips["hello"], 16000)
    with recognizer.stream(16000) as stream:
        _feed(stream, pcm[: len(pcm) // 2].tobytes(), 16000)
        stream.reset()
        assert stream.flush() is None


def test_capacity_limit_and_release(recognizer: SpeechRecognizer) -> None:
    limit = recognizer.settings.max_streams
    streams = [recognizer.stream(8000) for _ in range(limit - recognizer.active_streams)]
    with pytest.raises(SttCapacityError, match="stt.max_streams"):
        recognizer.stream(16000)
    streams[0].close()
    streams[0].close()  # idempotent: releases one slot only
    replacement = recognizer.stream(16000)
    with pytest.raises(SttCapacityError):
        recognizer.stream(8000)
    for s in [replacement, *streams]:
        s.close()
    assert recognizer.active_streams == 0
    with pytest.raises(SttError, match="closed"):
        replacement.accept(b"\x00\x00")
    with pytest.raises(SttError, match="no speech model for 44100 Hz"):
        recognizer.stream(44100)


def test_pool_runs_streams_concurrently_off_the_event_loop(
    stt_settings, recognizer: SpeechRecognizer, clips
) -> None:
    data = _padded(read_audio(clips["cancel"], 8000), 8000, 0.5, 1.0)
    # New recognizers for both streams: on the bundled (lookahead) graph, a recognizer's words at the
    # beam's edge depend on what it decoded before (docs/speech.md), and the session's recognizers differ.
    own = SpeechRecognizer(stt_settings, recognizer.models)
    try:
        finals = _call_finals(own, [data, data])
    finally:
        own.close()
    assert finals[0] and finals[0] == finals[1]


def test_parse_result_of_n_best_scores() -> None:
    result = {
        "alternatives": [
            {"confidence": 60.0, "text": "예약", "result": [{"word": "예약", "start": 0.1, "end": 0.5}]},
            {"confidence": 59.0, "text": "예약 요", "result": []},
        ]
    }
    t = parse_result(result, offset=2.0)
    assert t.text == "예약" and t.final
    assert t.confidence == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert t.words[0].start == pytest.approx(2.1) and t.words[0].confidence == pytest.approx(t.confidence)
    assert parse_result({"text": ""}).text == ""


def test_odd_sized_chunks_are_refused(recognizer: SpeechRecognizer) -> None:
    from stt import AudioError

    with recognizer.stream(8000) as stream, pytest.raises(AudioError, match="odd number of bytes"):
        stream.accept(b"\x00\x01\x02")


def test_config_models_must_be_folders(tmp_path: Path) -> None:
    from callbot.config import ConfigError, load_config

    cfg = tmp_path / "callbot.yml"
    cfg.write_text("stt:\n  models:\n    8000: missing-model\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="stt.models.8000: model folder does not exist"):
        SpeechRecognizer.from_config(load_config(cfg))


def _call_finals(recognizer: SpeechRecognizer, calls: list[bytes], chunk: int = 3200) -> list[list[str]]:
    """Play `calls` at once through the decode pool in `chunk`-byte pieces; each call's final texts."""

    async def call(stream, data: bytes) -> list[str]:
        out: list[Transcript] = []
        for i in range(0, len(data), chunk):
            out.extend(await recognizer.pool.run(stream, data[i : i + chunk]))
        last = await recognizer.pool.flush(stream)
        return [t.text for t in [*out, last] if t is not None and t.final]

    async def main() -> list[list[str]]:
        streams = [recognizer.stream(8000) for _ in calls]
        try:
            return await asyncio.gather(*(call(s, d) for s, d in zip(streams, calls, strict=True)))
        finally:
            for s in streams:
                s.close()

    return asyncio.run(main())


def test_callers_at_once_each_get_the_text_they_get_alone(stt_settings, static_graph_model, clips) -> None:
    """A finished call's recognizer goes to the next call with nothing of its caller in it: two callers
    talking at once, on the recognizers of two earlier callers whose last utterance Vosk ended itself
    (it then kept their iVector and CMVN statistics), each get the words they get alone on a new one.
    On a static graph (what `callbot train` builds) a recognizer has no other history (docs/speech.md)."""
    clip = lambda name: _padded(read_audio(clips[name], 8000), 8000, 0.5, 2.0)  # noqa: E731
    earlier, callers = [clip("hello"), clip("cancel")], [clip("hours"), clip("price")]
    models = {8000: static_graph_model}
    # The gate waits longer than Vosk's endpoint rules: Vosk ends each utterance itself.
    settings = dataclasses.replace(stt_settings, vad=dataclasses.replace(stt_settings.vad, hangover_ms=1500))

    alone = []
    for data in callers:
        own = SpeechRecognizer(settings, models)  # the loaded model, no recognizer of its own yet
        try:
            alone.extend(_call_finals(own, [data]))
        finally:
            own.close()
    shared = SpeechRecognizer(settings, models)
    try:
        _call_finals(shared, earlier, chunk=len(earlier[0]) + len(earlier[1]))  # each in one piece
        at_once = _call_finals(shared, callers)
        assert len(shared._idle) == 2  # the callers were given the earlier callers' recognizers
    finally:
        shared.close()
    assert alone[0] and alone[1] and alone[0] != alone[1]
    assert at_once == alone
