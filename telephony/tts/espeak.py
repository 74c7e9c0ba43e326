"""Offline Korean speech with espeak-ng: WAV on stdout -> 8 kHz -> mu-law."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import subprocess

import numpy as np
import soundfile as sf

from stt.audio import PHONE_RATE, resample
from stt.codec import ulaw_encode
from telephony import TtsError
from telephony.tts import TextToSpeech

logger = logging.getLogger(__name__)
_TIMEOUT = 20.0


class EspeakTts(TextToSpeech):
    """espeak-ng (`apt-get install espeak-ng`) as a subprocess per utterance; ~30 ms per sentence."""

    name = "espeak"

    async def synthesize(self, text: str) -> bytes:
        if not text.strip():
            return b""
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise TtsError(
                "espeak-ng is not installed (apt-get install espeak-ng), needed by tts backend 'espeak'"
            )
        args = [exe, "-v", self.settings.voice, "-s", str(self.settings.speed), "--stdout", text]
        # A worker thread, not asyncio's subprocess API: that needs a child watcher, which event loop
        # policies installed by other libraries (uvloop via Rasa's Sanic) may not provide.
        try:
            proc = await asyncio.to_thread(subprocess.run, args, capture_output=True, timeout=_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise TtsError(f"espeak-ng took over {_TIMEOUT:g} s for {len(text)} characters") from None
        wav, err = proc.stdout, proc.stderr
        if proc.returncode != 0 or not wav:
            raise TtsError(
                f"espeak-ng failed (voice {self.settings.voice!r}): {err.decode(errors='replace')}"
            )
        return await asyncio.to_thread(wav_to_ulaw, wav)


def wav_to_ulaw(wav: bytes) -> bytes:
    """WAV bytes (any rate, mono or not) -> 8 kHz mu-law bytes."""
    try:
        data, rate = sf.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise TtsError(f"synthesizer output is not a readable WAV: {exc}") from exc
    mono = data.mean(axis=1).astype(np.int16) if data.shape[1] > 1 else data[:, 0]
    return ulaw_encode(resample(mono, rate, PHONE_RATE)).tobytes()
