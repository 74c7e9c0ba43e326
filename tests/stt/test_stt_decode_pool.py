"""The decode pool's order (utterance ends first), its silence shortcut, and recognizer warm-up."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from callbot.events import Transcript
from stt import SttError
from stt.audio import read_audio
from stt.decode_pool import DecodePool
from stt.engine import SpeechRecognizer
from stt.vad import GateEvent, SpeechAudio, SpeechEnd


class _Stream:
    """Gates to whatever the test says; records the order in which chunks are decoded."""

    def __init__(self, name: str, log: list[str], hold: threading.Event | None = None) -> None:
        self.name, self.log, self.hold = name, log, hold
        self.next_events: list[GateEvent] = []

    def gate(self, pcm: bytes) -> list[GateEvent]:
        return self.next_events

    def decode(self, events: list[GateEvent]) -> list[Transcript]:
        if self.hold is not None:
            self.hold.wait(5)
        if self.name == "broken":
            raise SttError("decoder failed")
        self.log.append(self.name)
        return [Transcript(self.name, final=any(isinstance(e, SpeechEnd) for e in events))]


def test_decoding_threads_run_nicer_than_the_process() -> None:
    import os

    class _Nice:
        def decode(self, events: list[GateEvent]) -> list[Transcript]:
            return [Transcript(str(os.getpriority(os.PRIO_PROCESS, 0)), final=False)]  # Linux: per thread

    async def main(nice: int) -> int:
        pool = DecodePool(1, nice=nice)
        try:
            (result,) = await pool.submit(_Nice(), [SpeechAudio(b"\0\0", 0)]).future
            return int(result.text)
        finally:
            pool.close()

    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert asyncio.run(main(5)) == min(19, base + 5)
    assert asyncio.run(main(0)) == base
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the caller's own thread is left alone


def test_a_chunk_that_ends_an_utterance_is_decoded_before_others_speech() -> None:
    async def main() -> tuple[list[str], list[Transcript]]:
        pool, log, hold = DecodePool(1), [], threading.Event()
        try:
            busy = _Stream("busy", log, hold)
            busy.next_events = [SpeechAudio(b"\0\0", 0)]
            speaking = [_Stream(f"speech{i}", log) for i in range(3)]
            for s in speaking:
                s.next_events = [SpeechAudio(b"\0\0", 0)]
            ending = _Stream("end", log)
            ending.next_events = [SpeechAudio(b"\0\0", 0), SpeechEnd(1)]
            first = asyncio.ensure_future(pool.run(busy, b"\0\0"))  # occupies the only thread
            await asyncio.sleep(0.05)
            others = [asyncio.ensure_future(pool.run(s, b"\0\0")) for s in speaking]
            await asyncio.sleep(0.01)
            last = asyncio.ensure_future(pool.run(ending, b"\0\0"))
            await asyncio.sleep(0.01)
            hold.set()
            await asyncio.gather(first, *others)
            return log, await last
        finally:
            pool.close()

    log, result = asyncio.run(main())
    assert log == ["busy", "end", "speech0", "speech1", "speech2"]
    assert result == [Transcript("end", final=True)]


def test_silence_is_not_queued_and_errors_reach_the_caller() -> None:
    async def main() -> None:
        pool, log = DecodePool(1), []
        try:
            quiet = _Stream("quiet", log)  # the gate let nothing through
            assert await pool.run(quiet, b"\0\0" * 160) == [] and log == []
            broken = _Stream("broken", log)
            broken.next_events = [SpeechAudio(b"\0\0", 0)]
            with pytest.raises(SttError, match="decoder failed"):
                await pool.run(broken, b"\0\0")
        finally:
            pool.close()
        with pytest.raises(SttError, match="closed"):
            await pool.run(broken, b"\0\0")

    asyncio.run(main())


@pytest.mark.slow
def test_warm_keeps_recognizers_that_already_decoded_speech(recognizer: SpeechRecognizer, clips) -> None:
    pcm = read_audio(clips["hours"], 8000)
    audio = np.concatenate([pcm, np.zeros(8000, np.int16)]).astype("<i2").tobytes()
    assert recognizer.warm(2, audio, 8000) == 2
    assert recognizer.active_streams == 0
    with recognizer.stream(8000) as a, recognizer.stream(8000) as b:
        # Both reused a warmed recognizer (its clock has run): no cold first utterance for these calls.
        assert a._decoder.seconds > 0 and b._decoder.seconds > 0


@pytest.mark.slow
def test_stream_reports_where_the_gate_ended_the_utterance(recognizer: SpeechRecognizer, clips) -> None:
    pcm = read_audio(clips["hours"], 8000)
    speech_end = len(pcm) - int(np.flatnonzero(np.abs(pcm[::-1]) > 300)[0])  # last loud sample
    data = np.concatenate([pcm, np.zeros(8000, np.int16)]).astype("<i2").tobytes()
    with recognizer.stream(8000) as stream:
        finals = [t for i in range(0, len(data), 320) for t in stream.accept(data[i : i + 320]) if t.final]
        assert finals and stream.endpoint_sample is not None
        hangover = recognizer.settings.vad.hangover_ms * 8
        assert speech_end + hangover - 800 <= stream.endpoint_sample <= speech_end + hangover + 800
        assert stream.decode_started > 0


def test_a_promoted_job_jumps_ahead_of_speech_and_runs_once() -> None:
    """A call whose utterance ended behind its own queued speech chunk: that chunk is promoted."""

    async def main() -> tuple[list[str], bool]:
        pool, log, hold = DecodePool(1), [], threading.Event()
        try:
            busy = _Stream("busy", log, hold)
            first = pool.submit(busy, [SpeechAudio(b"\0\0", 0)])  # occupies the only thread
            await asyncio.sleep(0.05)
            others = [pool.submit(_Stream(f"speech{i}", log), [SpeechAudio(b"\0\0", 0)]) for i in range(3)]
            mine = pool.submit(_Stream("mine", log), [SpeechAudio(b"\0\0", 0)])
            assert mine.promote()
            hold.set()
            await asyncio.gather(first.future, mine.future, *(o.future for o in others))
            return log, mine.promote()
        finally:
            pool.close()

    log, promoted_again = asyncio.run(main())
    assert log == ["busy", "mine", "speech0", "speech1", "speech2"]  # and "mine" only once
    assert promoted_again is False  # a job that ran cannot be promoted


@pytest.mark.slow
def test_gating_never_waits_for_a_decode_of_the_same_stream(recognizer: SpeechRecognizer) -> None:
    """Frames are gated on the server's event loop as they arrive: a decode of the same call running on
    a decode thread (which holds the decoder for its whole length) must not stall it."""
    with recognizer.stream(8000) as stream:
        gated = threading.Event()
        with stream._lock:  # what a decode in flight holds
            worker = threading.Thread(target=lambda: (stream.gate(b"\0\0" * 160), gated.set()))
            worker.start()
            assert gated.wait(2.0)
        worker.join()
