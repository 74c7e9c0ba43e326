"""Twilio's own <Say language="ko-KR"> as the voice: no audio over the stream.

The call session speaks a reply through a call update (`CallControl.say`), TwiML that says the text
and then reconnects the media stream with a fresh token; the new stream resumes the same session.
"""

from __future__ import annotations

from telephony.tts import TextToSpeech


class TwilioSayTts(TextToSpeech):
    name = "twilio_say"
    speaks_via_call = True

    @property
    def twilio_voice(self) -> str | None:
        """The <Say voice=...> (e.g. Polly.Seoyeon); None (Twilio's default ko-KR voice) for espeak's "ko"."""
        return None if self.settings.voice in ("", "ko") else self.settings.voice

    async def synthesize(self, text: str) -> bytes:
        return b""  # the text is spoken by Twilio, see CallSession._speak
