"""The pure Media Streams parser and builders."""

from __future__ import annotations

import base64
import json

import pytest

from telephony import ProtocolError
from telephony.protocol import (
    Connected,
    DtmfPressed,
    MarkPlayed,
    Media,
    Start,
    Stop,
    clear_message,
    frames,
    mark_message,
    media_message,
    parse_message,
)

START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "AC123",
        "streamSid": "MZ123",
        "callSid": "CA123",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"token": "tok"},
    },
    "streamSid": "MZ123",
}


def test_parses_every_twilio_event() -> None:
    payload = base64.b64encode(b"\x00\xff" * 80).decode()
    assert parse_message('{"event": "connected", "protocol": "Call", "version": "1.0.0"}') == Connected(
        "Call", "1.0.0"
    )
    assert parse_message(json.dumps(START)) == Start("MZ123", "CA123", "AC123", {"token": "tok"})
    media = {
        "event": "media",
        "media": {"track": "inbound", "chunk": "2", "timestamp": "5", "payload": payload},
    }
    assert parse_message(json.dumps(media)) == Media(b"\x00\xff" * 80, 5, 2, "inbound")
    dtmf = {"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "#"}}
    assert parse_message(json.dumps(dtmf)) == DtmfPressed("#")
    assert parse_message('{"event": "mark", "mark": {"name": "reply-1"}}') == MarkPlayed("reply-1")
    stop = {"event": "stop", "stop": {"accountSid": "AC123", "callSid": "CA123"}}
    assert parse_message(json.dumps(stop)) == Stop("CA123")


def test_unknown_event_is_ignored() -> None:
    assert parse_message('{"event": "something-new", "x": 1}') is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"no": "event"}', "'event'"),
        ('{"event": "media", "media": {"payload": "@@not base64@@"}}', "base64"),
        ('{"event": "media"}', "'media' object"),
        ('{"event": "media", "media": {"payload": "AAAA", "timestamp": "x"}}', "media.timestamp"),
        ('{"event": "dtmf", "dtmf": {"digit": "A"}}', "dtmf.digit"),
        ('{"event": "mark", "mark": {}}', "mark.name"),
        ('{"event": "start", "start": {"streamSid": "MZ1"}}', "start.callSid"),
    ],
)
def test_malformed_messages_raise_one_specific_error(text: str, needle: str) -> None:
    with pytest.raises(ProtocolError, match=needle):
        parse_message(text)


def test_oversized_binary_and_wrong_format_are_refused() -> None:
    with pytest.raises(ProtocolError, match="over the limit"):
        parse_message('{"event": "media", "pad": "' + "x" * 2000 + '"}', max_bytes=1024)
    with pytest.raises(ProtocolError, match="binary"):
        parse_message(b"\x00\x01")
    wrong = json.loads(json.dumps(START))
    wrong["start"]["mediaFormat"] = {"encoding": "audio/l16", "sampleRate": 16000}
    with pytest.raises(ProtocolError, match="unsupported media format"):
        parse_message(json.dumps(wrong))


def test_outbound_messages_and_framing() -> None:
    assert json.loads(media_message("MZ1", b"\x01\x02")) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": base64.b64encode(b"\x01\x02").decode()},
    }
    assert json.loads(mark_message("MZ1", "m")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "m"},
    }
    assert json.loads(clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
    parts = frames(b"\x01" * 330)
    assert [len(p) for p in parts] == [160, 160, 160]
    assert parts[-1] == b"\x01" * 10 + b"\xff" * 150
