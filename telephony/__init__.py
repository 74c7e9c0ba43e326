"""The Twilio edge: voice webhook (TwiML), Media Streams websocket, replies spoken back, call logs.

Modules: `settings` (the `telephony` config section), `protocol` (pure Media Streams message parser and
builders), `twiml`, `tokens` (one-time stream tokens), `session` (one call's state and turn loop),
`stream` (the websocket loop), `app` (Starlette routes), `control` (Twilio REST: handoff, hangup),
`tts` (speech synthesis backends), `tts_cache` (pre-rendered fixed replies), `calllog` (SQL call logs),
`server` (building the services, uvicorn), `simulator` (a client that speaks Twilio's protocol).
"""

from __future__ import annotations


class TelephonyError(Exception):
    """Base class of every error raised by the telephony package."""


class ProtocolError(TelephonyError):
    """An inbound Media Streams message is malformed; the message says what and where."""


class TokenError(TelephonyError):
    """A stream token is missing, forged, expired, reused or bound to another call."""


class TtsError(TelephonyError):
    """Speech synthesis failed or a TTS backend is unknown or unavailable."""


class CallLogError(TelephonyError):
    """The call log database is unreachable or a call is unknown."""


class SimulationError(TelephonyError):
    """The simulated call could not be placed or the server broke the protocol."""


__all__ = [
    "CallLogError",
    "ProtocolError",
    "SimulationError",
    "TelephonyError",
    "TokenError",
    "TtsError",
]
