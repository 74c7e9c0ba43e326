"""Concurrent calls needing the same uncached reply share one synthesis (telephony.tts_cache)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from telephony.tts_cache import AudioCache, CachedSpeech


class _Streaming:
    """A streaming backend: two pieces per text, the second after `gap` seconds; counts syntheses."""

    name, voice, speaks_via_call = "fake", "v", False

    def __init__(self, gap: float = 0.05) -> None:
        self.gap = gap
        self.started = 0
        self.finished = 0

    async def synthesize(self, text: str) -> bytes:
        return b"".join([p async for p in self.stream(text)])

    async def stream(self, text: str) -> AsyncIterator[bytes]:
        self.started += 1
        yield b"\x01" * 160
        await asyncio.sleep(self.gap)
        yield b"\x02" * 160
        self.finished += 1


def test_simultaneous_requests_for_one_text_share_a_synthesis(tmp_path: Path) -> None:
    async def main() -> tuple[list[bytes], int, bytes]:
        tts = _Streaming()
        speech = CachedSpeech(tts, AudioCache(tmp_path / "cache"))  # type: ignore[arg-type]

        async def hear(text: str, fixed: bool) -> bytes:
            return b"".join([p async for p in speech.stream(text, fixed)])

        heard = await asyncio.gather(*(hear("종로점, 강남점 중 어디요?", False) for _ in range(5)))
        later = await hear("종로점, 강남점 중 어디요?", False)  # from memory now
        fixed = await asyncio.gather(*(hear("고정 안내", True) for _ in range(3)))
        assert fixed == [b"\x01" * 160 + b"\x02" * 160] * 3
        return list(heard), tts.started, later

    heard, syntheses, later = asyncio.run(main())
    assert heard == [b"\x01" * 160 + b"\x02" * 160] * 5  # every caller hears the whole reply
    assert later == heard[0]
    assert syntheses == 1 + 1  # one for the five simultaneous callers, one for the fixed text


def test_a_synthesis_every_reader_left_is_stopped(tmp_path: Path) -> None:
    async def main() -> tuple[int, int, bytes]:
        tts = _Streaming(gap=0.5)
        speech = CachedSpeech(tts, AudioCache(tmp_path / "cache"))  # type: ignore[arg-type]
        pieces = speech.stream("읽다 만 답변", False)
        assert await pieces.__anext__() == b"\x01" * 160
        await pieces.aclose()  # the caller barged in after the first piece
        await asyncio.sleep(0.05)
        again = b"".join([p async for p in speech.stream("읽다 만 답변", False)])  # a new synthesis
        return tts.started, tts.finished, again

    started, finished, again = asyncio.run(main())
    assert (started, finished) == (2, 1)  # the abandoned one never finished
    assert again == b"\x01" * 160 + b"\x02" * 160
