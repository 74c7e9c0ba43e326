"""The outbound side of one call: reply audio as 20 ms media frames plus a mark, cleared on barge-in.

Twilio buffers what it is sent and answers each `mark` once the audio before it has played, so the
playback knows what the caller has heard: a reply is "playing" from its first frame until its mark
comes back (or a `clear` drops it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

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
        self._seq = 0
        self._played = asyncio.Event()
        self._on_ended = on_ended

    async def play(self, audio: bytes, since: float) -> float | None:
        """Send `audio` then its mark; ms from `since` to the first frame (None when nothing went out)."""
        if not audio:
            return None
        self._seq += 1
        name = f"reply-{self._seq}"
        self.started(name, len(audio) / protocol.PHONE_RATE)
        first_ms: float | None = None
        for i, frame in enumerate(protocol.frames(audio)):
            if self.playing != name:  # barged in while sending
                return first_ms
            await self.send(protocol.media_message(self.stream_sid, frame))
            self.frames_out += 1
            if first_ms is None:
                first_ms = round((time.monotonic() - since) * 1000, 1)
            if i % 25 == 24:
                await asyncio.sleep(0)  # let other calls' frames through
        await self.send(protocol.mark_message(self.stream_sid, name))
        return first_ms

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
