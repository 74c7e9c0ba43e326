"""A call's decoding behind its gate (telephony.decoding): coalescing, promotion, endpoint timing."""

from __future__ import annotations

import asyncio
import threading

from callbot.events import Transcript
from stt.decode_pool import DecodePool
from stt.vad import GateEvent, SpeechAudio, SpeechEnd
from telephony.caller_audio import _loud
from telephony.decoding import StreamDecoder
from telephony.turn_timing import DecodeTiming


class _Stream:
    """Records each decode call's events; the first call waits for `hold` (a busy decoder)."""

    def __init__(self, hold: threading.Event) -> None:
        self.hold = hold
        self.calls: list[list[GateEvent]] = []

    def decode(self, events: list[GateEvent]) -> list[Transcript]:
        if not self.calls:
            self.hold.wait(5)
        self.calls.append(list(events))
        final = any(isinstance(e, SpeechEnd) for e in events)
        return [Transcript(f"call{len(self.calls)}", final=final)]


def _audio(start: int, samples: int = 160) -> SpeechAudio:
    return SpeechAudio(b"\1\0" * samples, start)


def test_audio_gated_during_a_decode_goes_in_one_next_job_with_the_end_timed_by_its_frame() -> None:
    async def main() -> tuple[_Stream, list[tuple[Transcript, DecodeTiming]], int]:
        pool, hold = DecodePool(1), threading.Event()
        stream, out = _Stream(hold), []

        async def deliver(t: Transcript, timing: DecodeTiming) -> None:
            out.append((t, timing))

        decoder = StreamDecoder(pool, stream, deliver, job_ms=20)  # a job per 20 ms frame of speech
        task = asyncio.ensure_future(decoder.run())
        try:
            decoder.add([_audio(0)], [(b"\xff" * 160, 1.0)], 0)
            await asyncio.sleep(0.05)  # the first job is running (held)
            decoder.add([_audio(160)], [(b"\xff" * 160, 2.0)], 160)
            # the utterance ends inside the second frame of this batch: that frame's arrival times it
            decoder.add([_audio(320), SpeechEnd(500)], [(b"\xff" * 160, 3.0), (b"\xff" * 160, 3.5)], 320)
            backlog = decoder.backlog_samples
            hold.set()
            for _ in range(100):
                if len(out) == 2:
                    break
                await asyncio.sleep(0.01)
            return stream, out, backlog
        finally:
            task.cancel()
            pool.close()

    stream, out, backlog = asyncio.run(main())
    assert backlog == 3 * 160  # frames gated but not decoded yet count against the call's backlog
    # everything gated during the busy decode, at once, its audio joined into one decoder call
    assert [len(c) for c in stream.calls] == [1, 2]
    audio, end = stream.calls[1]
    assert isinstance(audio, SpeechAudio) and (audio.start, len(audio.pcm)) == (160, 2 * 320)
    assert end == SpeechEnd(500)
    final, timing = out[1]
    assert final.final and timing.endpoint_at == 3.5


def test_an_end_behind_a_queued_chunk_promotes_it_ahead_of_other_calls() -> None:
    async def main() -> list[str]:
        pool, hold, order = DecodePool(1), threading.Event(), []

        class Named:
            def __init__(self, name: str, wait: bool = False) -> None:
                self.name, self.wait = name, wait

            def decode(self, events: list[GateEvent]) -> list[Transcript]:
                if self.wait:
                    hold.wait(5)
                order.append(self.name)
                return []

        async def deliver(t: Transcript, timing: DecodeTiming) -> None:
            pass

        busy = pool.submit(Named("busy", wait=True), [_audio(0)])
        await asyncio.sleep(0.05)
        others = [pool.submit(Named(f"other{i}"), [_audio(0)]) for i in range(3)]
        decoder = StreamDecoder(pool, Named("caller"), deliver, job_ms=20)
        task = asyncio.ensure_future(decoder.run())
        try:
            decoder.add([_audio(0)], [(b"\xff" * 160, 1.0)], 0)
            await asyncio.sleep(0.02)  # its speech chunk is queued behind the other calls' speech
            decoder.add([SpeechEnd(160)], [(b"\xff" * 160, 2.0)], 160)
            hold.set()
            await asyncio.gather(busy.future, *(o.future for o in others))
            for _ in range(100):
                if order.count("caller") == 2:
                    break
                await asyncio.sleep(0.01)
            return order
        finally:
            task.cancel()
            pool.close()

    order = asyncio.run(main())
    assert order[:2] == ["busy", "caller"]  # promoted past other0..2
    assert order.count("caller") == 2  # its speech once, then the end


def test_speech_waits_for_a_full_job_but_an_end_goes_at_once() -> None:
    async def main() -> list[list[GateEvent]]:
        pool = DecodePool(1)
        stream = _Stream(threading.Event())
        stream.hold.set()

        async def deliver(t: Transcript, timing: DecodeTiming) -> None:
            pass

        decoder = StreamDecoder(pool, stream, deliver)  # SPEECH_JOB_MS: 100 ms = five 20 ms frames
        task = asyncio.ensure_future(decoder.run())
        frame = [(b"\xff" * 160, 1.0)]
        try:
            for i in range(4):
                decoder.add([_audio(160 * i)], frame, 160 * i)
            await asyncio.sleep(0.05)
            calls_after_80ms = len(stream.calls)
            decoder.add([_audio(640)], frame, 640)  # the fifth frame: one job of 100 ms
            await asyncio.sleep(0.05)
            decoder.add([_audio(800)], frame, 800)
            decoder.add([SpeechEnd(960)], frame, 960)  # the end does not wait for a full job
            for _ in range(100):
                if len(stream.calls) == 2:
                    break
                await asyncio.sleep(0.01)
            assert calls_after_80ms == 0
            return stream.calls
        finally:
            task.cancel()
            pool.close()

    calls = asyncio.run(main())
    assert [[(type(e).__name__, len(getattr(e, "pcm", b"")) // 2) for e in c] for c in calls] == [
        [("SpeechAudio", 800)],
        [("SpeechAudio", 160), ("SpeechEnd", 0)],
    ]


def test_loud_frames_are_those_with_a_sample_above_35_dbfs() -> None:
    import numpy as np

    from stt.codec import pcm16_to_ulaw

    quiet = pcm16_to_ulaw(np.full(160, 500, "<i2").tobytes())
    loud = pcm16_to_ulaw(np.concatenate([np.zeros(159), [700]]).astype("<i2").tobytes())
    assert not _loud(b"\xff" * 160) and not _loud(quiet) and not _loud(b"")
    assert _loud(loud)


def test_media_streams_are_not_compressed(fake_server) -> None:  # noqa: ANN001
    """A client offering permessage-deflate (websockets does by default) gets plain frames: zlib on
    every 20 ms media message cost the server's event loop more than the bytes it saved."""
    import websockets

    async def negotiated(url: str) -> list[object]:
        async with websockets.connect(url) as ws:
            return list(ws.extensions)

    with fake_server() as srv:
        url = srv.url.replace("http://", "ws://") + "/twilio/stream"
        assert asyncio.run(negotiated(url)) == []
