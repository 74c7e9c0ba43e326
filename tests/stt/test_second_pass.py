"""The second pass: hallucination guards (on audio made here), the bounded pool, early reading and cancel."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from stt.audio import PHONE_RATE, from_telephone, read_audio, resample_float, to_telephone
from stt.config import VadSettings
from stt.second_pass.guards import judge, longest_repeat, spoken_chars
from stt.second_pass.pool import BUSY, LATE, LOW_CONFIDENCE, USED, choose
from stt.second_pass.settings import GuardSettings
from stt.second_pass.utterances import UtteranceReader
from stt.vad import EnergyGate, SpeechAudio, SpeechEnd, SpeechPause, SpeechResume
from stt.whisper.decoder import Hypothesis, posteriors

pytestmark = pytest.mark.slow
RNG_SEED = 7


def _hyp(text: str, logprob: float = -0.3, no_speech: float = 0.01, ratio: float = 1.0, seconds: float = 2.0):
    return Hypothesis(text, len(text), logprob, no_speech, ratio, seconds, 0.1)


# -- guards on hypotheses --------------------------------------------------------------------------


def test_each_guard_fires_on_its_symptom_and_real_answers_pass() -> None:
    g = GuardSettings()
    assert judge(_hyp("네 강남점으로 예약해 주세요"), g) is None
    assert judge(_hyp("네"), g) is None and judge(_hyp("네네네네"), g) is None  # how callers say yes
    assert judge(_hyp("  "), g) == "empty"
    assert judge(_hyp("아", logprob=-1.5, no_speech=0.8), g) == "no_speech"
    assert judge(_hyp("아", logprob=-0.5, no_speech=0.8), g) is None  # sure of its words: speech
    assert judge(_hyp("세방불화 센이", logprob=-2.3), g) == "low_logprob"
    assert judge(_hyp("하하", ratio=3.1), g) == "compression"
    assert judge(_hyp("시원한 시원한 시원한"), g) == "repeats"
    assert judge(_hyp("시청해주셔서 감사합니다!"), g) == "known_phrase"
    assert judge(_hyp("구독과 좋아요 부탁드려요"), g) == "known_phrase"
    assert judge(_hyp("가나다라마바사아자차카타파하", seconds=0.6), g) == "too_fast"
    custom = GuardSettings(phrases=("라온 그릴",))
    assert judge(_hyp("라온그릴입니다"), custom) == "known_phrase"


def test_repeats_and_spoken_length() -> None:
    assert longest_repeat("이곳은 이곳은 이곳은 이곳은") == 4
    assert longest_repeat("좋아요 좋아요") == 2 and longest_repeat("하하하하하") == 1
    assert spoken_chars("두 명 예약") == 4 and spoken_chars("OK") == 1


def test_choice_prefers_a_guarded_reading_and_doubts_vosk_after_a_rejection() -> None:
    from stt.second_pass.engines import Reading

    good = Reading("두 명이요", 0.8, None, 0.2, 1.0)
    bad = Reading("시청해 주셔서 감사합니다", 0.9, "known_phrase", 0.2, 1.0)
    used = choose("두 면 이유", 0.7, good, USED, "whisper")
    assert (used.text, used.source, used.confidence, used.vosk_text) == (
        "두 명이요",
        "whisper",
        0.8,
        "두 면 이유",
    )
    rejected = choose("두 면 이유", 0.7, bad, "rejected:known_phrase", "whisper")
    assert (rejected.text, rejected.source, rejected.confidence) == ("두 면 이유", "vosk", LOW_CONFIDENCE)
    assert rejected.second_text == "시청해 주셔서 감사합니다"
    late = choose("두 면 이유", 0.7, None, LATE, "whisper")
    assert (late.text, late.confidence, late.outcome, late.second_text) == ("두 면 이유", 0.7, LATE, None)


def test_the_n_best_goes_with_the_second_pass_text_and_is_kept_when_vosk_is_used() -> None:
    from stt.second_pass.engines import Reading

    heard = (("두 명이요", 0.7), ("두 면이요", 0.3))
    used = choose("두 면 이유", 0.7, Reading("두 명이요", 0.8, None, 0.2, 1.0, heard), USED, "whisper")
    assert used.alternatives == used.second_alternatives == heard
    late_vosk = choose(
        "두 면 이유",
        0.7,
        Reading("두 명이요", 0.8, "too_fast", 0.2, 1.0, heard),
        "rejected:too_fast",
        "whisper",
    )
    assert (
        late_vosk.source == "vosk" and late_vosk.alternatives == () and late_vosk.second_alternatives == heard
    )


# -- n-best: posteriors, guards on every hypothesis -----------------------------------------------------


def test_posteriors_share_the_listed_probability_in_order() -> None:
    shares = posteriors([-3.0, -3.7, -6.0])
    assert abs(sum(shares) - 1) < 1e-9 and shares[0] > shares[1] > shares[2] > 0
    assert posteriors([-1.0]) == [1.0] and posteriors([]) == []


class _Decoder:
    """A decoder that heard `hyp` (the guards' input, as the real decoder returns it)."""

    def __init__(self, hyp: Hypothesis) -> None:
        self.hyp = hyp

    def transcribe(self, audio, prompt="", cancelled=None):  # noqa: ANN001, ANN201
        return self.hyp


def test_every_alternative_passes_the_guards_or_is_dropped() -> None:
    from dataclasses import replace

    from stt.second_pass.engines import WhisperEngine
    from stt.second_pass.settings import SecondPassSettings

    heard = replace(
        _hyp("두 명 예약이요"),
        posterior=0.5,
        others=(
            replace(_hyp("시청해 주셔서 감사합니다"), posterior=0.3),
            replace(_hyp("두 명 예약 이요"), posterior=0.15),
            replace(_hyp(" "), posterior=0.05),
        ),
    )
    silence = bytes(32000)
    reading = WhisperEngine(_Decoder(heard), SecondPassSettings(n_best=4)).read(silence, 16000)
    assert reading.text == "두 명 예약이요" and reading.rejected is None
    assert reading.alternatives == (("두 명 예약이요", 0.5), ("두 명 예약 이요", 0.15))
    off = WhisperEngine(_Decoder(_hyp("두 명 예약이요")), SecondPassSettings(n_best=1)).read(silence, 16000)
    assert off.alternatives == ()


# -- real audio through the real bundled model ------------------------------------------------------


def _phone(samples: np.ndarray, rate: int = 16000) -> bytes:
    """int16 audio as it reaches us from a phone line: 8 kHz mu-law, decoded to 8 kHz PCM."""
    return from_telephone(to_telephone(samples.astype(np.int16), rate), PHONE_RATE).tobytes()


def _tone(freqs: tuple[float, ...], seconds: float, level: float = 0.3, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    return (wave * level * 32767).astype(np.int16)


def _dtmf(digits: str) -> np.ndarray:
    rows = {
        "1": 697,
        "2": 697,
        "3": 697,
        "4": 770,
        "5": 770,
        "6": 770,
        "7": 852,
        "8": 852,
        "9": 852,
        "0": 941,
    }
    cols = {"1": 1209, "2": 1336, "3": 1477, "4": 1209, "5": 1336, "6": 1477, "7": 1209, "8": 1336, "9": 1477}
    gap = np.zeros(1600, dtype=np.int16)
    return np.concatenate(
        [np.concatenate([_tone((rows[d], cols.get(d, 1336)), 0.2, 0.5), gap]) for d in digits]
    )


def _noise(seconds: float, kind: str) -> np.ndarray:
    rng = np.random.default_rng(RNG_SEED)
    white = rng.standard_normal(int(seconds * 16000))
    if kind == "pink":  # 1/f: white noise through a running sum, detrended
        white = np.cumsum(white)
        white -= np.convolve(white, np.ones(400) / 400, mode="same")
    return (white / np.abs(white).max() * 0.3 * 32767).astype(np.int16)


def _hold_music(tmp_path: Path) -> np.ndarray:
    """A plucked-chord loop from sox, the way hold music sounds down a phone line."""
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed (make installs it)")
    path = tmp_path / "music.wav"
    chords = [("C4", "E4", "G4"), ("F4", "A4", "C5"), ("G4", "B4", "D5"), ("C4", "E4", "G4")] * 2
    cmd = ["sox", "-n", "-r", "16000", "-c", "1", str(path)]
    for i, chord in enumerate(chords):
        cmd += ([":"] if i else []) + ["synth", "0.5", *(x for n in chord for x in ("pluck", n))]
    subprocess.run(cmd, check=True, capture_output=True)
    return read_audio(path, 16000)


@pytest.mark.parametrize("sound", ["silence", "white", "pink", "music", "dtmf"])
def test_whisper_inventions_on_non_speech_are_rejected(whisper, sound: str, tmp_path: Path) -> None:
    audio = {
        "silence": lambda: np.zeros(32000, dtype=np.int16),
        "white": lambda: _noise(3.0, "white"),
        "pink": lambda: _noise(3.0, "pink"),
        "music": lambda: _hold_music(tmp_path),
        "dtmf": lambda: _dtmf("01012345678"),
    }[sound]()
    reading = whisper.engine.read(_phone(audio), PHONE_RATE)
    assert reading is not None and reading.rejected is not None, reading


def test_whisper_reads_spoken_korean_and_it_passes_the_guards(whisper, speak, tmp_path: Path) -> None:
    pcm = read_audio(speak("네", tmp_path / "yes.wav"), 16000)
    reading = whisper.engine.read(_phone(pcm), PHONE_RATE)
    assert reading is not None and reading.rejected is None
    assert reading.text.strip(" .") == "네" and 0 < reading.confidence <= 1 and reading.seconds > 0


# -- the pool: bounded, no queue ---------------------------------------------------------------------


def test_whisper_n_best_lists_distinct_hypotheses_with_posteriors_best_first(
    whisper_with, speak, tmp_path: Path
) -> None:
    pcm = _phone(read_audio(speak("영업시간 알려주세요", tmp_path / "hours.wav"), 16000))
    audio = resample_float(np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0, PHONE_RATE, 16000)
    nbest, single = whisper_with(n_best=3), whisper_with(n_best=1, beam_size=3)
    best = nbest.engine.decoder.transcribe(audio.astype(np.float32))
    hyps = [best, *best.others]
    assert 2 <= len(hyps) <= 3 and len({h.text for h in hyps}) == len(hyps), hyps
    assert abs(sum(h.posterior for h in hyps) - 1) < 0.01 and all(0 < h.posterior <= 1 for h in hyps)
    # The first is the beam's best: the text the same beam gives without n-best.
    alone = single.engine.decoder.transcribe(audio.astype(np.float32))
    assert alone.text == best.text and alone.others == () and alone.posterior == 1.0
    reading = nbest.engine.read(pcm, PHONE_RATE)
    assert reading.text == best.text and reading.alternatives[0] == (best.text, best.posterior)
    assert single.engine.read(pcm, PHONE_RATE).alternatives == ()


def test_a_full_pool_refuses_at_once_and_a_late_reading_is_not_waited_for(whisper_with) -> None:
    second = whisper_with(workers=1)
    long_noise = _phone(_noise(25.0, "pink"))  # a 30 s window: the slowest reading there is

    async def go() -> None:
        first = second.start(long_noise, PHONE_RATE)
        started = time.monotonic()
        refused = second.start(long_noise, PHONE_RATE)
        assert refused.refused == BUSY and refused.done()
        assert await refused.wait(5.0) == (None, BUSY) and time.monotonic() - started < 0.1
        assert await first.wait(0.01) == (None, LATE)  # the turn goes on; the reading keeps running
        reading, outcome = await first.wait(30.0)
        assert reading is not None and outcome.startswith("rejected")
        again = second.start(long_noise[: PHONE_RATE * 2], PHONE_RATE)  # the reader is free again
        assert again.refused is None
        await again.wait(30.0)

    asyncio.run(go())


# -- the gate's pause events and the early reading ----------------------------------------------------


def _gate_events(gate: EnergyGate, pcm: bytes) -> list:
    events = []
    for i in range(0, len(pcm), 320):  # 20 ms frames, as a call delivers them
        events.extend(gate.push(pcm[i : i + 320]))
    return events


def test_the_gate_says_when_speech_pauses_and_goes_on() -> None:
    gate = EnergyGate(VadSettings(), PHONE_RATE, pause_ms=100)
    loud = _phone(_tone((300.0, 700.0), 0.6))
    quiet = bytes(2 * PHONE_RATE // 5)  # 400 ms: a pause inside the 500 ms window
    events = _gate_events(gate, loud + quiet + loud + bytes(2 * PHONE_RATE))
    kinds = [type(e).__name__ for e in events if not isinstance(e, SpeechAudio)]
    assert kinds == ["SpeechPause", "SpeechResume", "SpeechPause", "SpeechEnd"]
    pause = next(e for e in events if isinstance(e, SpeechPause))
    assert abs(pause.at - len(loud) // 2) <= 2 * 160  # where the quiet began (within two frames)
    assert not [
        e
        for e in _gate_events(EnergyGate(VadSettings(), PHONE_RATE), loud + quiet)
        if isinstance(e, SpeechPause)
    ]


def test_an_early_reading_is_cancelled_when_the_caller_goes_on_and_restarted_with_all_the_audio(
    whisper, speak, tmp_path: Path
) -> None:
    yes = _phone(read_audio(speak("네", tmp_path / "yes.wav"), 16000))  # ends in ~300 ms of quiet

    async def go() -> None:
        before = dict(whisper.stats)
        reader = UtteranceReader(whisper, PHONE_RATE)
        gate = EnergyGate(VadSettings(), PHONE_RATE, pause_ms=100)
        events = _gate_events(gate, yes + yes + bytes(2 * PHONE_RATE))  # a pause, then more
        first_pause = next(i for i, e in enumerate(events) if isinstance(e, SpeechPause))
        reader.add(events[: first_pause + 1])
        early = reader._job
        assert early is not None and early.speculative
        resume = next(i for i, e in enumerate(events) if isinstance(e, SpeechResume))
        reader.add(events[first_pause + 1 : resume + 1])
        assert early.cancelled and reader._job is None
        reader.add(events[resume + 1 :])
        assert any(isinstance(e, SpeechEnd) for e in events)
        job = reader.take_ended()
        assert job is not None and job is not early and job.speculative  # started at the second pause
        reading, outcome = await job.wait(30.0)
        heard = reading.text.replace(" ", "").replace(",", "").replace(".", "")
        # both words were read (Whisper's int8 kernels differ by CPU: "네, 네." on one, "네 네 네 네 네" on another)
        assert outcome == USED and heard.count("네") >= 2 and set(heard) == {"네"}, reading.text
        assert whisper.stats["cancelled_early"] == before.get("cancelled_early", 0) + 1

    asyncio.run(go())


def test_eval_and_drafts_report_each_pass(recognizer, whisper, speak, tmp_path: Path) -> None:
    import csv

    from stt.engine import SpeechRecognizer
    from stt.evaluate import evaluate, read_manifest
    from stt.transcribe import transcribe_files

    two_pass = SpeechRecognizer(recognizer.settings, recognizer.models, whisper)
    speak("네", tmp_path / "yes.wav")
    (tmp_path / "m.tsv").write_text("path\ttext\tintent\nyes.wav\t네\tcommon_affirm\n", encoding="utf-8")
    given = []

    def intent_fn(text: str, alternatives: tuple = ()) -> str:
        given.append(alternatives)
        return "common_affirm" if "네" in text else "x"

    report = evaluate(read_manifest(tmp_path / "m.tsv"), two_pass, telephone=True, intent_fn=intent_fn)
    clip = report.clips[0]
    # The final text is read with Whisper's n-best (the shipped n_best), as a call's turn is; the passes alone without.
    assert whisper.settings.n_best > 1 and given[-1] and given[-1][0][0] == clip.hypothesis
    assert given[:-1] == [(), ()]
    assert set(report.passes) == {"vosk", "whisper", "final"}
    assert clip.sources == "whisper" and clip.outcomes == "used" and clip.hypothesis == clip.second_hypothesis
    assert report.passes["whisper"].cer == report.passes["final"].cer == 0.0
    assert report.passes["final"].intent_accuracy == 1.0 and report.passes["whisper"].latency_p50_ms > 0
    drafts = tmp_path / "drafts.csv"
    transcribe_files([tmp_path / "yes.wav"], two_pass, drafts)
    row = next(csv.DictReader(drafts.open(encoding="utf-8")))
    assert row["text"].strip(" .") == "네" and row["source"] == "whisper" and "vosk_text" in row
    two_pass.hand_over_second_pass()  # the session's model stays loaded for the other tests
    two_pass.close()


def _threads_at_nice(value: int) -> int:
    count = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        count += int(fields[16]) == value
    return count


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux per-thread nice values")
def test_readers_are_as_nice_as_the_vosk_decoders(whisper_settings) -> None:
    import dataclasses

    from stt.second_pass.pool import SecondPass

    before = _threads_at_nice(13)
    second = SecondPass.load(dataclasses.replace(whisper_settings, workers=2), nice=13)
    try:
        assert _threads_at_nice(13) >= before + 2  # CTranslate2's two workers inherited it
    finally:
        second.close()
