"""Whisper's log-mel input features, in numpy: 16 kHz float audio -> [n_mels, frames].

The same computation as OpenAI's `whisper.audio.log_mel_spectrogram` (and faster-whisper's feature
extractor): a 25 ms Hann window every 10 ms, |STFT|^2, a Slaney-style mel filterbank, log10 clamped to
8 below the maximum, scaled to about [-1, 1]. The audio is padded with silence to a fixed window first:
Whisper was trained on 30 s windows and repeats itself when given one just as long as the speech, but
10 s windows decode phone utterances as well at a third of the cost (see `stt.whisper.decoder`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160  # 10 ms: 100 frames per second


@lru_cache(maxsize=4)
def mel_filters(n_mels: int, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """Triangular filters on the Slaney mel scale with Slaney area normalisation: [n_mels, n_fft//2 + 1]."""
    f_sp, min_log_hz, min_log_mel = 200.0 / 3, 1000.0, 15.0
    logstep = np.log(6.4) / 27.0

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        linear = hz / f_sp
        log = min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep
        return np.where(hz >= min_log_hz, log, linear)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)

    fft_freqs = np.linspace(0.0, sample_rate / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sample_rate / 2)), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def log_mel(audio: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """Log-mel features of float32 16 kHz audio: [n_mels, len(audio) // HOP], float32."""
    if audio.ndim != 1 or audio.size < N_FFT:
        raise ValueError(f"need mono audio of at least {N_FFT} samples, got shape {audio.shape}")
    padded = np.pad(audio.astype(np.float32, copy=False), N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count] * _window()
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = mel_filters(n_mels) @ power[:-1].T.astype(np.float32)  # the last frame is dropped, as Whisper does
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return ((log + 4.0) / 4.0).astype(np.float32)


def window_features(audio: np.ndarray, window_seconds: float, n_mels: int = 80) -> np.ndarray:
    """Features of `audio` padded with silence to the window: [1, n_mels, window_seconds * 100].

    Audio longer than the window is padded to the next multiple of 10 s, up to Whisper's 30 s.
    """
    window = int(window_seconds * SAMPLE_RATE)
    while len(audio) > window and window < 30 * SAMPLE_RATE:
        window = min(30 * SAMPLE_RATE, window + 10 * SAMPLE_RATE)
    clip = audio[:window]
    padded = np.zeros(window, dtype=np.float32)
    padded[: len(clip)] = clip
    return np.ascontiguousarray(log_mel(padded, n_mels)[None])
