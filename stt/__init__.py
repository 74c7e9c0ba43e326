"""Speech to text: phone audio (8 kHz mu-law) or 16 kHz PCM -> `Transcript` events, with Vosk.

Modules: `codec` (G.711 mu-law), `audio` (file reading, resampling, the phone path), `vad` (energy gate),
`engine` (models, recognizer streams, thread pool), `evaluate` and `transcribe` (offline tools).
"""

from __future__ import annotations


class SttError(Exception):
    """Base class of every error raised by the stt package."""


class AudioError(SttError):
    """An audio file or buffer is unreadable, empty, too long or malformed; the message names it."""


class ModelError(SttError):
    """A Vosk model folder is missing, incomplete or fails to load."""


class SttCapacityError(SttError):
    """Every recognition slot is in use (`stt.max_streams`); the call should be refused or queued."""


__all__ = ["AudioError", "ModelError", "SttCapacityError", "SttError"]
