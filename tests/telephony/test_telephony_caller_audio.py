"""A call's inbound audio (telephony.caller_audio): loudness, backlog limit, saved utterance, executor path."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from callbot.events import Transcript
from telephony.caller_audio import MAX_BACKLOG_FRAMES, CallerAudio
from telephony.turn_timing import DecodeTiming

SILENT = b"\xff" * 160  # mu-law line silence, 20 ms
LOUD = b"\x00" * 160  # mu-law full scale


class _Recognition:
    """Without `gate` (no decode pool): CallerAudio feeds it batches through `accept`."""

    def __init__(self) -> None:
        self.samples = 0

    def accept(self, pcm: bytes) -> list[Transcript]:
        self.samples += len(pcm) // 2
        return [Transcript(text=f"{self.samples}", final=True)]


def test_loudness_is_reported_per_frame_and_frames_are_counted() -> None:
    audio = CallerAudio(_deliver_nothing, save_audio=False)
    assert audio.push(LOUD) is True
    assert audio.push(SILENT) is False
    assert audio.stats == {"frames_in": 2, "frames_dropped": 0}


def test_backlog_over_the_limit_is_dropped_and_counted_but_still_judged_loud() -> None:
    audio = CallerAudio(_deliver_nothing, save_audio=False)  # not started: nothing drains the queue
    for _ in range(MAX_BACKLOG_FRAMES):
        audio.push(SILENT)
    assert audio.backlog_frames() == MAX_BACKLOG_FRAMES
    assert audio.push(LOUD) is True
    assert audio.stats == {"frames_in": MAX_BACKLOG_FRAMES + 1, "frames_dropped": 1}


def test_executor_path_decodes_every_frame_in_order_and_keeps_the_utterance() -> None:
    got: list[tuple[str, DecodeTiming]] = []

    async def deliver(t: Transcript, timing: DecodeTiming) -> None:
        got.append((t.text, timing))

    async def main() -> bytes:
        recognition = _Recognition()
        audio = CallerAudio(deliver, save_audio=True)
        with ThreadPoolExecutor(1) as executor:
            task = asyncio.create_task(audio.start(object(), recognition, executor)())
            for _ in range(30):
                audio.push(LOUD)
            # the recognizer counts the samples in the executor thread before its transcript is
            # delivered on the loop: wait for the delivery, not the count
            for _ in range(1000):
                if got and got[-1][0] == str(30 * 160):
                    break
                await asyncio.sleep(0.01)
            task.cancel()
        assert audio.backlog_frames() == 0
        return audio.take_utterance()

    pcm = asyncio.run(main())
    assert len(pcm) == 30 * 160 * 2  # PCM16 of every frame, for save_audio
    assert got and got[-1][0] == str(30 * 160)  # the recognizer saw every sample
    assert all(timing.stt_ms >= 0 for _, timing in got)


async def _deliver_nothing(t: Transcript, timing: DecodeTiming) -> None:
    raise AssertionError("nothing should be decoded")
