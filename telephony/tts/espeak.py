"""Offline Korean speech with espeak-ng: WAV on stdout -> 8 kHz -> mu-law."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf

from stt.audio import PHONE_RATE, resample
from stt.codec import ulaw_encode
from telephony import TtsError
from telephony.settings import TtsSettings
from telephony.tts import TextToSpeech

logger = logging.getLogger(__name__)
_TIMEOUT = 20.0
_SENTENCE_END = re.compile(r"(?<=[.?!。])\s+")


class EspeakTts(TextToSpeech):
    """espeak-ng (`apt-get install espeak-ng`) as a subprocess per utterance; ~30 ms per sentence."""

    name = "espeak"

    def __init__(self, settings: TtsSettings) -> None:
        super().__init__(settings)
        # Its own threads: a synthesis blocks one for its whole run, and in asyncio's shared default
        # pool that starved every other `to_thread` user (cache reads, ...) of the server under load.
        self._threads = ThreadPoolExecutor(2 * (os.cpu_count() or 1), thread_name_prefix="tts-espeak")

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
        loop = asyncio.get_running_loop()
        run = functools.partial(subprocess.run, args, capture_output=True, timeout=_TIMEOUT)
        try:
            proc = await loop.run_in_executor(self._threads, run)
        except subprocess.TimeoutExpired:
            raise TtsError(f"espeak-ng took over {_TIMEOUT:g} s for {len(text)} characters") from None
        wav, err = proc.stdout, proc.stderr
        if proc.returncode != 0 or not wav:
            raise TtsError(
                f"espeak-ng failed (voice {self.settings.voice!r}): {err.decode(errors='replace')}"
            )
        return await loop.run_in_executor(self._threads, wav_to_ulaw, wav)

    async def stream(self, text: str) -> AsyncIterator[bytes]:
        """The first sentence and the rest synthesized side by side: the first is out in a fraction
        of the whole reply's synthesis time (a long uncached reply took 100-300 ms before any frame)."""
        first, rest = split_first_sentence(text)
        if not rest:
            if audio := await self.synthesize(text):
                yield audio
            return
        head = asyncio.ensure_future(self.synthesize(first))
        tail = asyncio.ensure_future(self.synthesize(rest))
        try:
            for task in (head, tail):
                if audio := await task:
                    yield audio
        finally:  # a barge-in stops playback: the synthesis nobody will hear is dropped
            for task in (head, tail):
                task.cancel()
            for task in (head, tail):
                with contextlib.suppress(asyncio.CancelledError, TtsError):
                    await task


def split_first_sentence(text: str) -> tuple[str, str]:
    """(first sentence, the rest) of `text`; the rest is empty for a single sentence."""
    parts = _SENTENCE_END.split(text.strip(), maxsplit=1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else (text.strip(), "")


def wav_to_ulaw(wav: bytes) -> bytes:
    """WAV bytes (any rate, mono or not) -> 8 kHz mu-law bytes."""
    try:
        data, rate = sf.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise TtsError(f"synthesizer output is not a readable WAV: {exc}") from exc
    mono = data.mean(axis=1).astype(np.int16) if data.shape[1] > 1 else data[:, 0]
    return ulaw_encode(resample(mono, rate, PHONE_RATE)).tobytes()
