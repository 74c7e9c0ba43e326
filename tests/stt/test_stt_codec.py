from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

from stt.codec import pcm16_to_ulaw, ulaw_decode, ulaw_encode, ulaw_to_pcm16


def test_decode_reference_values() -> None:
    codes = np.array([0xFF, 0x7F, 0x00, 0x80, 0xFE, 0x7E, 0xEF], dtype=np.uint8)
    assert ulaw_decode(codes).tolist() == [0, 0, -32124, 32124, 8, -8, 132]


def test_encode_reference_values() -> None:
    pcm = np.array([0, 32767, -32768, 32124, -32124, 8, -8], dtype=np.int16)
    assert ulaw_encode(pcm).tolist() == [0xFF, 0x80, 0x00, 0x80, 0x00, 0xFE, 0x7E]


def test_every_code_survives_a_round_trip() -> None:
    decoded = ulaw_decode(np.arange(256, dtype=np.uint8))
    assert np.array_equal(ulaw_decode(ulaw_encode(decoded)), decoded)


def test_encoding_error_is_within_the_segment_step() -> None:
    pcm = np.arange(-32768, 32768, 7, dtype=np.int32).astype(np.int16)
    back = ulaw_decode(ulaw_encode(pcm)).astype(np.int32)
    err = np.abs(back - pcm.astype(np.int32))
    # mu-law steps grow with the magnitude: 1/16 of the segment, at most 1024 in the loudest one
    assert np.all(err <= np.maximum(np.abs(pcm.astype(np.int32)) // 16, 8) + 1)


def test_bytes_api_lengths_and_little_endian() -> None:
    pcm = np.array([1000, -1000, 0], dtype="<i2").tobytes()
    ulaw = pcm16_to_ulaw(pcm)
    assert len(ulaw) == 3
    back = np.frombuffer(ulaw_to_pcm16(ulaw), dtype="<i2")
    assert back.tolist()[2] == 0 and abs(back[0] - 1000) < 40 and back[1] == -back[0]
    with pytest.raises(ValueError, match="even number"):
        pcm16_to_ulaw(b"\x00\x01\x02")


def test_matches_cpython_audioop_where_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            audioop = importlib.import_module("audioop")
        except ImportError:
            pytest.skip("audioop was removed from this Python")
    pcm = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert pcm16_to_ulaw(pcm) == audioop.lin2ulaw(pcm, 2)
    codes = bytes(range(256))
    assert ulaw_to_pcm16(codes) == audioop.ulaw2lin(codes, 2)
