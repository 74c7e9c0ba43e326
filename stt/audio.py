"""Audio files and buffers -> mono int16 PCM at the rate a recognizer wants, and the phone path.

Any WAV/FLAC/OGG that libsndfile reads, at any rate and channel count, comes out as mono int16 at
`target_rate` (soxr resampling). `to_telephone` / `from_telephone` reproduce what Twilio carries:
8 kHz G.711 mu-law.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from stt import AudioError
from stt.codec import ulaw_decode, ulaw_encode

PHONE_RATE = 8000


def read_audio(path: str | Path, target_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Read an audio file as mono int16 at `target_rate`; `AudioError` naming the file when unusable."""
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: no such file")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(f"{p}: not a readable audio file ({_reason(exc)})") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{p}: empty audio (no samples)")
    seconds = info.frames / info.samplerate
    if max_seconds is not None and seconds > max_seconds:
        raise AudioError(
            f"{p}: {seconds:.1f} s long, over the limit of {max_seconds:g} s (stt.max_file_seconds)"
        )
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{p}: corrupt audio data ({_reason(exc)})") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{p}: empty audio (no samples)")
    return float_to_int16(resample_float(data.mean(axis=1), rate, target_rate))


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono int16 samples; returns int16."""
    if from_rate == to_rate:
        return np.asarray(pcm, dtype=np.int16)
    return float_to_int16(resample_float(np.asarray(pcm, dtype=np.float32) / 32768.0, from_rate, to_rate))


def resample_float(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return x.astype(np.float32, copy=False)
    return soxr.resample(x.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ")


def float_to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def to_telephone(pcm: np.ndarray | bytes, rate: int) -> bytes:
    """Mono int16 PCM at `rate` -> 8 kHz mu-law bytes, as a caller's audio arrives from Twilio."""
    samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray) else pcm
    return ulaw_encode(resample(samples, rate, PHONE_RATE)).tobytes()


def from_telephone(ulaw: bytes, rate: int = PHONE_RATE) -> np.ndarray:
    """8 kHz mu-law bytes -> mono int16 samples at `rate`."""
    return resample(ulaw_decode(np.frombuffer(ulaw, dtype=np.uint8)), PHONE_RATE, rate)


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
