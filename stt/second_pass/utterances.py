"""One stream's utterances on their way to the second pass, read early inside the endpoint window.

`UtteranceReader.add` takes the energy gate's events as the caller's frames arrive. The gate says when
the speech stopped (`SpeechPause`, `stt.second_pass.speculate_after_ms` of quiet): the audio so far is
sent to the second pass at once, while the gate waits out the rest of its window. If the caller goes on
(`SpeechResume`) that early reading is cancelled, and the next pause starts a new one with all the audio.
When the gate closes (`SpeechEnd`) the utterance is done: its job (started then, if no pause came first)
waits in `ended` for the utterance's final transcript.
"""

from __future__ import annotations

from collections import deque

from stt.second_pass.pool import PassJob, SecondPass
from stt.vad import GateEvent, SpeechAudio, SpeechEnd, SpeechPause, SpeechResume

MAX_SECONDS = 30.0  # Whisper's longest window: later audio of a longer utterance is not read again


class UtteranceReader:
    """Not thread-safe: `add`, `take_ended`, `cut` and `close` run on one thread (the event loop)."""

    def __init__(self, second: SecondPass, sample_rate: int, prompt: str = "") -> None:
        self.second = second
        self.sample_rate = sample_rate
        self.prompt = prompt
        self._pcm = bytearray()
        self._limit = int(MAX_SECONDS * sample_rate) * 2
        self._job: PassJob | None = None  # the early reading of the utterance still open
        self._ended: deque[PassJob | None] = deque()

    def add(self, events: list[GateEvent]) -> None:
        for event in events:
            if isinstance(event, SpeechAudio):
                if len(self._pcm) < self._limit:
                    self._pcm += event.pcm[: self._limit - len(self._pcm)]
            elif isinstance(event, SpeechPause):
                if self._job is None and self._pcm:
                    job = self.second.start(bytes(self._pcm), self.sample_rate, self.prompt, speculative=True)
                    self._job = None if job.refused else job  # busy now: try again when the gate closes
            elif isinstance(event, SpeechResume):
                self._drop_early()
            elif isinstance(event, SpeechEnd):
                self._ended.append(self._close())

    def take_ended(self) -> PassJob | None:
        """The job of the earliest utterance the gate closed (None if there was no audio)."""
        return self._ended.popleft() if self._ended else None

    def cut(self) -> PassJob | None:
        """A final transcript came while the gate stayed open (Vosk's own endpoint): read what is here."""
        return self._close()

    def close(self) -> None:
        """The stream ends: early or unclaimed readings are of no use any more."""
        self._drop_early()
        while self._ended:
            job = self._ended.popleft()
            if job is not None:
                job.cancel()

    def _close(self) -> PassJob | None:
        job, pcm = self._job, bytes(self._pcm)
        self._job, self._pcm = None, bytearray()
        if job is None and pcm:
            job = self.second.start(pcm, self.sample_rate, self.prompt)
        return job

    def _drop_early(self) -> None:
        if self._job is not None:
            self._job.cancel()
            if not self._job.refused:
                self.second.count("cancelled_early")
            self._job = None
