"""Warm the recognizers before the first call, with the bot's own cached reply audio as the speech.

A new Vosk recognizer of a lookahead graph (HCLr o Gr) composes the decoding graph as it decodes, so its
first utterances cost ~3x the CPU of later ones; at a burst of new calls that backlog shows up as seconds
of reply latency and dropped caller frames. `warm_recognizers` decodes a few seconds of Korean speech
through as many recognizers as calls are expected, and `SpeechRecognizer` keeps them for reuse. The
trained domain model's static graph (`stt.lm.static_graph`) has no such cost and is not warmed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Protocol

from stt.codec import ulaw_to_pcm16
from telephony import protocol
from telephony.settings import TelephonySettings

logger = logging.getLogger(__name__)
WARM_SECONDS = 4.0  # of speech per recognizer: ~80% of the first-use cost is gone after 4 s
_GAP = b"\xff" * (protocol.PHONE_RATE // 2)  # 0.5 s of mu-law silence: each clip ends an utterance


class WarmableRecognizer(Protocol):
    def warm(self, count: int, pcm16: bytes, sample_rate: int) -> int: ...


def warm_audio(folder: Path, seconds: float = WARM_SECONDS) -> bytes:
    """8 kHz PCM16 of cached reply clips (`*.ulaw`, name order) with silence after each, about `seconds`."""
    ulaw = bytearray()
    for clip in sorted(folder.glob("*.ulaw")) if folder.is_dir() else []:
        ulaw += clip.read_bytes()[: int(seconds * protocol.PHONE_RATE)] + _GAP
        if len(ulaw) >= seconds * protocol.PHONE_RATE:
            break
    return ulaw_to_pcm16(bytes(ulaw))


def warm_recognizers(recognizer: WarmableRecognizer, settings: TelephonySettings) -> int:
    """Warm `settings.warm_recognizers` recognizers (blocking); 0 when there is no cached audio."""
    if settings.warm_recognizers <= 0:
        return 0
    pcm = warm_audio(settings.state_dir / "tts_cache")
    if not pcm:
        logger.info("telephony.warmup.skipped reason=no cached reply audio under %s", settings.state_dir)
        return 0
    started = time.monotonic()
    count = recognizer.warm(settings.warm_recognizers, pcm, protocol.PHONE_RATE)
    logger.info("telephony.warmup.done recognizers=%d seconds=%.1f", count, time.monotonic() - started)
    return count
