from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stt import AudioError
from stt.audio import from_telephone, read_audio, resample, to_telephone


def _tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(pcm))


@pytest.mark.parametrize(
    ("rate", "channels", "fmt"), [(44100, 2, "WAV"), (8000, 1, "FLAC"), (48000, 2, "OGG")]
)
def test_any_file_becomes_mono_int16_at_the_target_rate(
    tmp_path: Path, rate: int, channels: int, fmt: str
) -> None:
    tone = _tone(440.0, rate, 1.0)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(str(path), data, rate, format=fmt)
    pcm = read_audio(path, 16000)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert abs(len(pcm) - 16000) <= 16
    assert _peak_hz(pcm, 16000) == pytest.approx(440.0, abs=3.0)


def test_stereo_channels_are_averaged(tmp_path: Path) -> None:
    left = _tone(300.0, 16000, 0.5)
    path = tmp_path / "lr.wav"
    sf.write(str(path), np.stack([left, -left], axis=1), 16000)  # opposite phases cancel out
    assert np.abs(read_audio(path, 16000)).max() <= 1


def test_phone_path_round_trip_keeps_the_signal() -> None:
    pcm = (_tone(500.0, 16000, 1.0, 0.3) * 32767).astype(np.int16)
    ulaw = to_telephone(pcm, 16000)
    assert len(ulaw) == 8000  # one byte per 8 kHz sample
    back = from_telephone(ulaw, 16000)
    assert len(back) == 16000
    core = slice(1000, 15000)
    noise = back[core].astype(np.float64) - pcm[core]
    snr = 10 * np.log10(np.mean(pcm[core].astype(np.float64) ** 2) / np.mean(noise**2))
    assert snr > 25
    assert to_telephone(pcm.tobytes(), 16000) == ulaw


def test_resample_is_identity_at_the_same_rate() -> None:
    pcm = np.array([1, -2, 3], dtype=np.int16)
    assert resample(pcm, 8000, 8000).tolist() == [1, -2, 3]
    assert len(resample(np.zeros(8000, np.int16), 8000, 16000)) == 16000


def test_bad_files_raise_audio_error_naming_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 4)
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all", encoding="utf-8")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.int16), 16000)
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    for path in (corrupt, text, empty, zero_bytes, tmp_path / "missing.wav"):
        with pytest.raises(AudioError, match=path.name):
            read_audio(path, 16000)


def test_over_long_files_are_rejected_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(str(path), np.zeros(8000 * 3, np.int16), 8000)
    with pytest.raises(AudioError, match=r"long\.wav: 3\.0 s long, over the limit of 2 s"):
        read_audio(path, 16000, max_seconds=2)
    assert len(read_audio(path, 8000, max_seconds=5)) == 24000
