"""ITU-T G.711 mu-law <-> signed 16-bit PCM, as Twilio Media Streams send and expect it (8 kHz, mono).

Pure numpy lookup tables: `audioop` is gone from Python 3.13. Decoding is a 256-entry table, encoding a
65536-entry table indexed by the PCM sample's unsigned 16-bit pattern.
"""

from __future__ import annotations

import numpy as np

_BIAS = 0x84
_CLIP14 = 8159
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def _decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _encode_table() -> np.ndarray:
    # The classic Sun/CCITT encoder on the 14-bit value (pcm >> 2), as CPython's audioop did: the
    # same codes as `audioop.lin2ulaw`, so recordings made either way are byte-identical.
    pcm = np.arange(65536, dtype=np.int32)
    pcm = np.where(pcm >= 32768, pcm - 65536, pcm) >> 2  # index = uint16 view of the int16 sample
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _CLIP14) + (_BIAS >> 2)
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude)  # first segment whose end >= magnitude
    codes = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    codes = np.where(segment >= 8, 0x7F, codes)  # beyond the last segment: the loudest code
    return ((codes ^ mask) & 0xFF).astype(np.uint8)


_DECODE = _decode_table()
_ENCODE = _encode_table()


def ulaw_to_pcm16(data: bytes) -> bytes:
    """Mu-law bytes -> signed 16-bit little-endian PCM bytes (twice as long)."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def pcm16_to_ulaw(data: bytes) -> bytes:
    """Signed 16-bit little-endian PCM bytes -> mu-law bytes (half as long)."""
    if len(data) % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {len(data)}")
    return _ENCODE[np.frombuffer(data, dtype="<i2").view("<u2")].tobytes()


def ulaw_decode(codes: np.ndarray) -> np.ndarray:
    """Array form of `ulaw_to_pcm16`: uint8 codes -> int16 samples."""
    return _DECODE[np.asarray(codes, dtype=np.uint8)]


def ulaw_encode(samples: np.ndarray) -> np.ndarray:
    """Array form of `pcm16_to_ulaw`: int16 samples -> uint8 codes."""
    return _ENCODE[np.asarray(samples, dtype=np.int16).view(np.uint16)]
