"""TwiML documents the server answers with, built by the real `twilio` library."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Parameter, Stream, VoiceResponse

LANGUAGE = "ko-KR"


def connect_stream(
    stream_url: str, token: str, greeting: str = "", action: str = "", resume: bool = False
) -> str:
    """Answer an incoming call: optional <Say> greeting, then a bidirectional <Connect><Stream>.

    `action`: the URL Twilio requests when the stream ends without the call ending (the replica died
    or handed the call over): its answer continues the call (`resume` marks that stream's start).
    """
    response = VoiceResponse()
    if greeting:
        response.say(greeting, language=LANGUAGE)
    response.append(_stream(stream_url, token, action, resume))
    return str(response)


def hangup() -> str:
    """End the call (the answer to a reconnect of a call the bot already ended)."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def dial(number: str) -> str:
    """Hand the call to a human agent."""
    response = VoiceResponse()
    response.dial(number)
    return str(response)


def say_and_hangup(text: str, voice: str | None = None) -> str:
    response = VoiceResponse()
    response.say(text, language=LANGUAGE, **({"voice": voice} if voice else {}))
    response.hangup()
    return str(response)


def say_then_stream(text: str, voice: str | None, stream_url: str, token: str, action: str = "") -> str:
    """Speak `text` with Twilio's <Say>, then reconnect the media stream (the twilio_say TTS backend)."""
    response = VoiceResponse()
    response.say(text, language=LANGUAGE, **({"voice": voice} if voice else {}))
    response.append(_stream(stream_url, token, action))
    return str(response)


def _stream(stream_url: str, token: str, action: str = "", resume: bool = False) -> Connect:
    """<Connect action=...><Stream url=...><Parameter name="token" .../></Stream></Connect>"""
    connect = Connect(action=action) if action else Connect()
    stream = Stream(url=stream_url)
    stream.append(Parameter(name="token", value=token))
    if resume:
        stream.append(Parameter(name="resume", value="1"))
    connect.append(stream)
    return connect


def resume_url_for(public_url: str) -> str:
    """https://host -> https://host/twilio/resume: the <Connect action> every replica answers."""
    return public_url.rstrip("/") + "/twilio/resume"


def stream_url_for(public_url: str) -> str:
    """https://host -> wss://host/twilio/stream (http -> ws for loopback tests)."""
    base = public_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/twilio/stream"
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + "/twilio/stream"
    raise ValueError(f"public URL must start with https:// or http://, got {public_url!r}")
