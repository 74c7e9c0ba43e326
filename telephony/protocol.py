"""Twilio Media Streams messages: a pure parser of inbound JSON text and builders of outbound messages.

`parse_message` turns one websocket text message into a typed event, `None` for events callbot ignores
(unknown event names), or raises `ProtocolError` naming what is wrong. It never raises anything else,
so the socket loop can log and carry on (or end that one call).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from telephony import ProtocolError

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law: what Twilio sends and what we send back
PHONE_RATE = 8000


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = PHONE_RATE


@dataclass(frozen=True)
class Media:
    payload: bytes  # mu-law bytes
    timestamp_ms: int
    chunk: int
    track: str = "inbound"


@dataclass(frozen=True)
class DtmfPressed:
    digit: str


@dataclass(frozen=True)
class MarkPlayed:
    name: str


@dataclass(frozen=True)
class Stop:
    call_sid: str


InboundEvent = Connected | Start | Media | DtmfPressed | MarkPlayed | Stop
_DIGITS = frozenset("0123456789*#")


def parse_message(text: str | bytes, max_bytes: int = 64 * 1024) -> InboundEvent | None:
    """One inbound message -> event; `None` for unknown events; `ProtocolError` when malformed."""
    if isinstance(text, bytes):
        raise ProtocolError("binary websocket message; Media Streams messages are JSON text")
    if len(text) > max_bytes:
        raise ProtocolError(f"message of {len(text)} bytes is over the limit of {max_bytes}")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError(f"expected a JSON object, got {type(msg).__name__}")
    event = msg.get("event")
    if not isinstance(event, str):
        raise ProtocolError("message has no 'event' string")
    parser = _PARSERS.get(event)
    return parser(msg) if parser is not None else None


def _connected(msg: dict[str, Any]) -> Connected:
    return Connected(protocol=str(msg.get("protocol", "")), version=str(msg.get("version", "")))


def _start(msg: dict[str, Any]) -> Start:
    body = _object(msg, "start")
    params = body.get("customParameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("start.customParameters must be an object")
    fmt = body.get("mediaFormat") or {}
    if not isinstance(fmt, dict):
        raise ProtocolError("start.mediaFormat must be an object")
    encoding = str(fmt.get("encoding", "audio/x-mulaw"))
    rate = _int(fmt.get("sampleRate", PHONE_RATE), "start.mediaFormat.sampleRate")
    if encoding != "audio/x-mulaw" or rate != PHONE_RATE:
        raise ProtocolError(f"unsupported media format {encoding} at {rate} Hz (expected audio/x-mulaw 8000)")
    return Start(
        stream_sid=_str(body.get("streamSid") or msg.get("streamSid"), "start.streamSid"),
        call_sid=_str(body.get("callSid"), "start.callSid"),
        account_sid=str(body.get("accountSid", "")),
        custom_parameters={str(k): str(v) for k, v in params.items()},
        encoding=encoding,
        sample_rate=rate,
    )


def _media(msg: dict[str, Any]) -> Media:
    body = _object(msg, "media")
    payload = _str(body.get("payload"), "media.payload")
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("media.payload is not valid base64") from None
    return Media(
        payload=audio,
        timestamp_ms=_int(body.get("timestamp", 0), "media.timestamp"),
        chunk=_int(body.get("chunk", 0), "media.chunk"),
        track=str(body.get("track", "inbound")),
    )


def _dtmf(msg: dict[str, Any]) -> DtmfPressed:
    digit = _str(_object(msg, "dtmf").get("digit"), "dtmf.digit")
    if digit not in _DIGITS:
        raise ProtocolError(f"dtmf.digit must be one of 0-9, * or #, got {digit!r}")
    return DtmfPressed(digit=digit)


def _mark(msg: dict[str, Any]) -> MarkPlayed:
    return MarkPlayed(name=_str(_object(msg, "mark").get("name"), "mark.name"))


def _stop(msg: dict[str, Any]) -> Stop:
    body = msg.get("stop")
    return Stop(call_sid=str(body.get("callSid", "")) if isinstance(body, dict) else "")


_PARSERS = {
    "connected": _connected,
    "start": _start,
    "media": _media,
    "dtmf": _dtmf,
    "mark": _mark,
    "stop": _stop,
}


def _object(msg: dict[str, Any], key: str) -> dict[str, Any]:
    body = msg.get(key)
    if not isinstance(body, dict):
        raise ProtocolError(f"'{key}' event without a '{key}' object")
    return body


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{where} must be a non-empty string")
    return value


def _int(value: Any, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ProtocolError(f"{where} must be an integer, got {value!r}") from None


# ------------------------------------------------------------------------------------------------
# Outbound messages (server -> Twilio)


def media_message(stream_sid: str, ulaw: bytes) -> str:
    payload = base64.b64encode(ulaw).decode("ascii")
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})


def frames(ulaw: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """Split mu-law audio into 20 ms frames; the last one is padded with mu-law silence (0xFF)."""
    out = [ulaw[i : i + size] for i in range(0, len(ulaw), size)]
    if out and len(out[-1]) < size:
        out[-1] = out[-1] + b"\xff" * (size - len(out[-1]))
    return out
