"""Energy-based voice activity gate (numpy): only speech, with some context around it, is decoded.

The gate opens after `min_speech_ms` of frames louder than both an absolute level (`threshold_db`, dBFS)
and the noise floor plus `noise_margin_db`, the floor being the quietest frame of the last 1.5 s (so a
steady noise stops counting as speech after that long); it hands over `preroll_ms` of audio from before the
onset, and closes after `hangover_ms` of quiet, which ends the utterance. With `pause_ms`, it also says
when the speech stopped (that much quiet inside the hangover: the second pass may start reading) and
when it went on before the gate closed (the early reading is stale).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from stt.config import VadSettings

_FLOOR_WINDOW_MS = 1500  # noise floor: the quietest frame of the last 1.5 s (speech has pauses)
_FLOOR_MIN_DB = -90.0  # digital silence must not make the floor unreachably low
_FLOOR_START_DB = -70.0  # assumed floor for the first window, so speech at the very start counts
_FULL_SCALE_DB = 20.0 * math.log10(32768.0)


@dataclass(frozen=True)
class SpeechAudio:
    """Audio the gate lets through; `start` is its first sample's index in the input stream."""

    pcm: bytes
    start: int


@dataclass(frozen=True)
class SpeechEnd:
    """The gate closed: the caller stopped speaking at input sample `end`."""

    end: int


@dataclass(frozen=True)
class SpeechPause:
    """`pause_ms` of quiet while the gate is open: the utterance may be over (input sample `at`)."""

    at: int


@dataclass(frozen=True)
class SpeechResume:
    """Speech again after a `SpeechPause`, before the gate closed: the utterance goes on."""

    at: int


GateEvent = SpeechAudio | SpeechEnd | SpeechPause | SpeechResume


def frame_db(frame: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (silence: -120)."""
    rms = float(np.sqrt(np.mean(np.square(frame.astype(np.float64))))) if frame.size else 0.0
    return 20.0 * np.log10(max(rms, 1e-6) / 32768.0)


class EnergyGate:
    """Stateful gate over a stream of int16 PCM bytes at `sample_rate`."""

    def __init__(self, settings: VadSettings, sample_rate: int, pause_ms: int = 0) -> None:
        self.settings = settings
        self.frame = max(1, sample_rate * settings.frame_ms // 1000)
        self._min_speech = max(1, settings.min_speech_ms // settings.frame_ms)
        self._hangover = max(1, settings.hangover_ms // settings.frame_ms)
        # 0: no pause events; a pause as long as the hangover is the gate closing itself
        pause = -(-pause_ms // settings.frame_ms) if pause_ms > 0 else 0
        self._pause = pause if 0 < pause < self._hangover else 0
        self._preroll = settings.preroll_ms // settings.frame_ms
        self.reset()

    def reset(self) -> None:
        self.open = False
        window = max(1, _FLOOR_WINDOW_MS // self.settings.frame_ms)
        self._recent: deque[float] = deque([_FLOOR_START_DB] * window, maxlen=window)
        self._rest = b""
        self._position = 0  # input index of the next complete frame
        self._held: deque[tuple[int, bytes]] = deque(maxlen=self._preroll + self._min_speech)
        self._loud_run = 0
        self._quiet_run = 0

    @property
    def noise_floor_db(self) -> float:
        return min(self._recent)

    def push(self, pcm: bytes) -> list[GateEvent]:
        """Feed audio; returns what to decode and where utterances end, in order."""
        data = self._rest + pcm
        usable = len(data) - len(data) % (2 * self.frame)
        self._rest = data[usable:]
        if not usable:
            return []
        # Live calls push one 20 ms frame at a time: one numpy call for the sums of squares (exact in
        # float64) and scalar logs cost a third of the elementwise chain on such tiny arrays.
        samples = np.frombuffer(data[:usable], dtype="<i2").reshape(-1, self.frame).astype(np.float64)
        powers = np.einsum("ij,ij->i", samples, samples) / self.frame
        events: list[GateEvent] = []
        for i, power in enumerate(powers.tolist()):
            start = self._position
            self._position += self.frame
            db = 10.0 * math.log10(max(power, 1e-12)) - _FULL_SCALE_DB
            self._step(db, data[2 * i * self.frame : 2 * (i + 1) * self.frame], start, events)
        return coalesce(events)

    def flush(self) -> list[GateEvent]:
        """End of input: pass on a trailing partial frame when open, and close the gate."""
        events: list[GateEvent] = []
        if self.open:
            rest = self._rest[: len(self._rest) - len(self._rest) % 2]
            if rest:
                events.append(SpeechAudio(rest, self._position))
                self._position += len(rest) // 2
            events.append(SpeechEnd(self._position))
        self._rest = b""
        self.open = False
        self._held.clear()
        self._loud_run = self._quiet_run = 0
        return events

    def _step(self, db: float, frame: bytes, start: int, events: list[GateEvent]) -> None:
        s = self.settings
        self._recent.append(max(db, _FLOOR_MIN_DB))
        loud = db > s.threshold_db and db > self.noise_floor_db + s.noise_margin_db
        if self.open:
            events.append(SpeechAudio(frame, start))
            paused = self._pause and self._quiet_run >= self._pause
            self._quiet_run = 0 if loud else self._quiet_run + 1
            if paused and loud:
                events.append(SpeechResume(start))
            elif self._pause and self._quiet_run == self._pause:
                events.append(SpeechPause(start + self.frame - self._pause * self.frame))
            if self._quiet_run >= self._hangover:
                self.open = False
                self._quiet_run = 0
                events.append(SpeechEnd(start + self.frame))
            return
        self._held.append((start, frame))
        self._loud_run = self._loud_run + 1 if loud else 0
        if self._loud_run >= self._min_speech:
            self.open = True
            self._loud_run = 0
            events.extend(SpeechAudio(f, st) for st, f in self._held)
            self._held.clear()


def coalesce(events: list[GateEvent]) -> list[GateEvent]:
    """Join adjacent audio pieces so the decoder gets a few larger chunks, not many 20 ms frames."""
    out: list[GateEvent] = []
    for e in events:
        last = out[-1] if out else None
        if isinstance(e, SpeechAudio) and isinstance(last, SpeechAudio):
            if last.start + len(last.pcm) // 2 == e.start:
                out[-1] = SpeechAudio(last.pcm + e.pcm, last.start)
                continue
        out.append(e)
    return out
