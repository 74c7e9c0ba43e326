from __future__ import annotations

import numpy as np

from stt.config import VadSettings
from stt.vad import EnergyGate, SpeechAudio, SpeechEnd

RATE = 8000


def _clip(rng: np.random.Generator) -> np.ndarray:
    """1 s line noise (-60 dBFS), 0.6 s tone (-12 dBFS), 1.5 s line noise."""
    noise = lambda s: rng.normal(0, 32768 * 10 ** (-60 / 20), int(RATE * s))  # noqa: E731
    t = np.arange(int(RATE * 0.6)) / RATE
    tone = 0.35 * 32768 * np.sin(2 * np.pi * 300 * t)
    return np.concatenate([noise(1.0), tone, noise(1.5)]).astype(np.int16)


def _run(gate: EnergyGate, pcm: bytes, chunk: int) -> list:
    events = []
    for i in range(0, len(pcm), chunk):
        events.extend(gate.push(pcm[i : i + chunk]))
    return events + gate.flush()


def test_gate_passes_speech_with_preroll_and_ends_after_the_hangover() -> None:
    settings = VadSettings(preroll_ms=200, hangover_ms=400, min_speech_ms=60)
    events = _run(EnergyGate(settings, RATE), _clip(np.random.default_rng(1)).tobytes(), 320)
    audio = [e for e in events if isinstance(e, SpeechAudio)]
    ends = [e for e in events if isinstance(e, SpeechEnd)]
    assert len(ends) == 1
    first = audio[0].start / RATE
    assert 0.7 <= first <= 0.85  # onset at 1.0 s minus ~0.2 s preroll (+ the 60 ms detection run)
    end = ends[0].end / RATE
    assert 1.9 <= end <= 2.1  # tone ends at 1.6 s, plus the 0.4 s hangover
    passed = sum(len(a.pcm) // 2 for a in audio) / RATE
    assert passed < 1.5  # of 3.1 s, only the speech and its margins reach the decoder
    spans = [(a.start, a.start + len(a.pcm) // 2) for a in audio]
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False))


def test_chunking_does_not_change_the_decision() -> None:
    pcm = _clip(np.random.default_rng(2)).tobytes()
    settings = VadSettings()

    def summary(chunk: int) -> tuple[int, int, int]:
        events = _run(EnergyGate(settings, RATE), pcm, chunk)
        audio = [e for e in events if isinstance(e, SpeechAudio)]
        return (
            audio[0].start,
            sum(len(a.pcm) for a in audio),
            next(e.end for e in events if isinstance(e, SpeechEnd)),
        )

    assert summary(160) == summary(333) == summary(len(pcm))


def test_silence_and_steady_noise_never_open_the_gate() -> None:
    rng = np.random.default_rng(3)
    gate = EnergyGate(VadSettings(threshold_db=-60.0, noise_margin_db=9.0), RATE)
    hum = rng.normal(0, 32768 * 10 ** (-45 / 20), RATE * 4).astype(np.int16)  # loud but steady
    assert _run(gate, np.zeros(RATE, np.int16).tobytes(), 320) == []
    # a steady noise opens the gate at first, then becomes the floor: it closes after the 1.5 s floor
    # window + the hangover, and stays closed
    for g in (gate, EnergyGate(gate.settings, RATE)):  # after silence, and from the very start
        began = g._position
        events = _run(g, hum.tobytes(), 320)
        assert [e for e in events if isinstance(e, SpeechAudio) and e.start > began + RATE * 2.1] == []
        assert sum(isinstance(e, SpeechEnd) for e in events) == 1
        assert g.noise_floor_db > -50


def test_flush_ends_speech_that_runs_to_the_end_of_input() -> None:
    t = np.arange(RATE) / RATE
    tone = (0.3 * 32768 * np.sin(2 * np.pi * 200 * t)).astype(np.int16)
    gate = EnergyGate(VadSettings(), RATE)
    events = gate.push(tone.tobytes() + b"\x00\x01\x00")  # and a partial frame
    assert gate.open and not any(isinstance(e, SpeechEnd) for e in events)
    tail = gate.flush()
    assert isinstance(tail[-1], SpeechEnd) and not gate.open
