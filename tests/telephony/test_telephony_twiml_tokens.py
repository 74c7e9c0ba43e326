"""TwiML as exact strings, stream tokens, the settings section."""

from __future__ import annotations

import pytest

from callbot.config import Config, ConfigError
from telephony import TokenError, twiml
from telephony.settings import read_telephony_settings
from telephony.tokens import StreamTokens

XML = '<?xml version="1.0" encoding="UTF-8"?>'


def test_connect_stream_twiml_exact() -> None:
    assert twiml.connect_stream("wss://bot.example.com/twilio/stream", "t0k") == (
        XML + '<Response><Connect><Stream url="wss://bot.example.com/twilio/stream">'
        '<Parameter name="token" value="t0k" /></Stream></Connect></Response>'
    )
    assert twiml.connect_stream("wss://h/twilio/stream", "t", greeting="안녕하세요") == (
        XML + '<Response><Say language="ko-KR">안녕하세요</Say><Connect><Stream url="wss://h/twilio/stream">'
        '<Parameter name="token" value="t" /></Stream></Connect></Response>'
    )


def test_dial_and_hangup_twiml_exact() -> None:
    assert twiml.dial("+8215880000") == XML + "<Response><Dial>+8215880000</Dial></Response>"
    assert twiml.say_and_hangup("안녕히 계세요", "Polly.Seoyeon") == (
        XML + '<Response><Say language="ko-KR" voice="Polly.Seoyeon">안녕히 계세요</Say><Hangup /></Response>'
    )


def test_stream_url_from_public_url() -> None:
    assert twiml.stream_url_for("https://abc.ngrok.app/") == "wss://abc.ngrok.app/twilio/stream"
    assert twiml.stream_url_for("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/twilio/stream"
    with pytest.raises(ValueError):
        twiml.stream_url_for("ftp://x")


def test_tokens_are_one_time_bound_and_expiring() -> None:
    now = [1000.0]
    tokens = StreamTokens(ttl_seconds=60, secret=b"k" * 32, clock=lambda: now[0])
    token = tokens.issue("CA1")
    with pytest.raises(TokenError, match="another call"):
        tokens.consume(token, "CA2")
    tokens.consume(token, "CA1")
    with pytest.raises(TokenError, match="already used"):
        tokens.consume(token, "CA1")
    with pytest.raises(TokenError, match="missing"):
        tokens.consume(None, "CA1")
    with pytest.raises(TokenError, match="malformed"):
        tokens.consume("garbage", "CA1")
    forged = StreamTokens(ttl_seconds=60, secret=b"x" * 32, clock=lambda: now[0]).issue("CA1")
    with pytest.raises(TokenError, match="forged"):
        tokens.consume(forged, "CA1")
    late = tokens.issue("CA3")
    now[0] += 61
    with pytest.raises(TokenError, match="expired"):
        tokens.consume(late, "CA3")


def test_settings_defaults_and_every_bad_key_reported(tmp_path) -> None:
    config = Config(path=tmp_path / "callbot.yml", raw={})
    s = read_telephony_settings(config)
    assert s.tts.backend == "espeak" and s.port == 8080
    assert s.sqlalchemy_url == f"sqlite:///{tmp_path / 'var' / 'calls.db'}"
    bad = Config(
        path=tmp_path / "callbot.yml",
        raw={
            "telephony": {
                "public_url": "bot.example.com",
                "port": 0,
                "tts": {"backend": "nope", "colour": 1},
                "silence": {"max_reprompts": -1},
                "bogus": True,
            }
        },
    )
    with pytest.raises(ConfigError) as err:
        read_telephony_settings(bad)
    message = str(err.value)
    for key in (
        "telephony.public_url",
        "telephony.port",
        "telephony.tts.backend",
        "telephony.tts.colour",
        "telephony.silence.max_reprompts",
        "telephony.bogus",
    ):
        assert key in message
