"""The outbound side of one call: reply audio as 20 ms media frames plus a mark, cleared on barge-in.

Twilio buffers what it is sent and answers each `mark` once the audio before it has played, so the
playback knows what the caller has heard: a reply is "playing" from its first frame until its mark
comes back (or a `clear` drops it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from telephony import protocol

logger = logging.getLogger(__name__)
MARK_GRACE_SECONDS = 3.0  # a mark not back this long after its audio should have ended counts as played


class Playback:
    def __init__(
        self, stream_sid: str, send: Callable[[str], Awaitable[None]], on_ended: Callable[[], None]
    ) -> None:
        self.stream_sid = stream_sid
        self.send = send
        self.playing: str | None = None  # name of the mark that ends the current reply
        self.seconds = 0.0  # length of the current reply
        self.frames_out = 0
        self._first_ms: float | None = None  # of the reply being sent
        self._seq = 0
        self._played = asyncio.Event()
        self._on_ended = on_ended

    async def play(self, audio: bytes | AsyncIterator[bytes], since: float) -> float | None:
        """Send `audio` (or its pieces, each as soon as it comes) then its mark; ms from `since` to the
        first frame (None when nothing went out)."""
        pieces = _once(audio) if isinstance(audio, bytes) else audio
        try:
            return await self._play(pieces, since)
        finally:
            closer = getattr(pieces, "aclose", None)
            if closer is not None:
                await closer()  # e.g. stop synthesis nobody will hear after a barge-in

    async def _play(self, pieces: AsyncIterator[bytes], since: float) -> float | None:
        piece = await _next_audio(pieces)
        if piece is None:
            return None
        self._seq += 1
        name = f"reply-{self._seq}"
        self.started(name, 0.0)
        self._first_ms = None
        rest = b""
        while piece is not None:
            self.seconds += len(piece) / protocol.PHONE_RATE
            data = rest + piece
            cut = len(data) - len(data) % protocol.FRAME_BYTES
            rest = data[cut:]
            if not await self._send_frames(data[:cut], name, since):
                return self._first_ms  # barged in while sending
            piece = await _next_audio(pieces)
        if not await self._send_frames(rest, name, since):  # the last frame, padded with silence
            return self._first_ms
        await self.send(protocol.mark_message(self.stream_sid, name))
        return self._first_ms

    async def _send_frames(self, audio: bytes, name: str, since: float) -> bool:
        """Send `audio` as frames; False when the reply `name` stopped playing (a barge-in)."""
        for frame in protocol.frames(audio):
            if self.playing != name:
                return False
            await self.send(protocol.media_message(self.stream_sid, frame))
            self.frames_out += 1
            if self._first_ms is None:
                self._first_ms = round((time.monotonic() - since) * 1000, 1)
            if self.frames_out % 25 == 0:
                await asyncio.sleep(0)  # let other calls' frames through
        return self.playing == name

    def started(self, name: str, seconds: float) -> None:
        """Something is being said (our frames, or Twilio's <Say> under `name`)."""
        self.playing, self.seconds = name, seconds
        self._played.clear()

    def marked(self, name: str) -> None:
        if name == self.playing:
            self.ended()

    async def clear(self) -> None:
        """Barge-in: Twilio drops the audio it still holds."""
        await self.send(protocol.clear_message(self.stream_sid))
        self.ended()

    def ended(self) -> None:
        self.playing = None
        self._played.set()
        self._on_ended()

    async def wait(self, call_sid: str) -> None:
        """Until the caller has heard the current reply (its mark came back, or a clear)."""
        if self.playing is None:
            return
        try:
            await asyncio.wait_for(self._played.wait(), self.seconds + MARK_GRACE_SECONDS)
        except TimeoutError:
            logger.warning("telephony.playback.mark_timeout call=%s", call_sid)
            self.ended()


async def _once(audio: bytes) -> AsyncIterator[bytes]:
    yield audio


async def _next_audio(pieces: AsyncIterator[bytes]) -> bytes | None:
    """The next non-empty piece, None at the end."""
    async for piece in pieces:
        if piece:
            return piece
    return None


async def after_first_piece(
    pieces: AsyncIterator[bytes], on_sent: Callable[[], None]
) -> AsyncIterator[bytes]:
    """`pieces`, calling `on_sent()` once the first non-empty piece has been sent (the player asks for
    the next piece, or the reply ends, only after sending what it had)."""
    sent = False
    try:
        async for piece in pieces:
            yield piece
            if piece and not sent:
                sent = True
                on_sent()
    finally:
        closer = getattr(pieces, "aclose", None)
        if closer is not None:
            await closer()
