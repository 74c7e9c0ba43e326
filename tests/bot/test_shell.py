"""`callbot shell`: typed lines through the same dialogue pipeline as a call."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from callbot.cli.main import app
from callbot.cli.shell_cmd import ShellIO, run_shell
from tests.bot.runtime_models import shared_bot
from tests.bot.test_runtime import model_cache

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(request, tmp_path_factory):
    return shared_bot(model_cache(request), tmp_path_factory.mktemp("tinybot"))


def drive(bot, lines: list[str], json_lines: bool = False, audio=None) -> str:
    """Run the shell loop on `lines` and return everything it printed."""
    pending = list(lines)

    async def read_line():
        return pending.pop(0) + "\n" if pending else None

    out = io.StringIO()
    shell_io = ShellIO(read_line, Console(file=out, width=200, color_system=None), json_lines, audio)
    asyncio.run(run_shell(bot, shell_io, call_id="shell-test"))
    return out.getvalue()


def test_the_shell_shows_domain_intent_slots_and_replies(tiny):
    bot, _ = tiny
    printed = drive(bot, ["예약하고 싶어요", "4명이요", "/state", "/dtmf 0", "/quit", "never read"])
    assert "bot> 안녕하세요, 맛있는 식당입니다. 무엇을 도와드릴까요?" in printed
    assert "reservation / reservation_book (1.00)" in printed
    assert "bot> 몇 분이 오시나요?" in printed
    assert "party_size=4" in printed and "bot> 4명으로 예약할까요?" in printed
    assert "sticky_domain: reservation" in printed and "requested_slot: confirm" in printed
    assert "[handoff]" in printed and "the call would now handoff" in printed


def test_json_lines_dtmf_reset_and_audio_errors(tiny, tmp_path):
    bot, _ = tiny
    printed = drive(
        bot,
        ["예약할게요", "/dtmf 6#", "/reset", "/dtmf x", f"/audio {tmp_path / 'missing.wav'}", "/bogus"],
        json_lines=True,
        audio=lambda path: None,
    )
    rows = [json.loads(line) for line in printed.splitlines()]
    replies = [r for r in rows if "text" in r]
    assert [r["input"] for r in replies] == ["greet", "예약할게요", "dtmf 6", "dtmf #", "reset"]
    assert replies[2]["text"] == "" and replies[3]["text"] == "6명으로 예약할까요?"
    assert replies[3]["slots"] == {"party_size": 6} and replies[3]["domain"] == "reservation"
    assert replies[4]["text"].startswith("안녕하세요") and replies[4]["fixed"] is True
    notes = [r["note"] for r in rows if "note" in r]
    assert notes[0].startswith("usage: /dtmf")
    assert "missing.wav: no such file" in notes[1]
    assert notes[2].startswith("unknown command /bogus")


def test_audio_transcript_goes_through_the_same_turn(tiny, tmp_path):
    from callbot.events import UserText

    bot, _ = tiny
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")

    async def fake_stt(path):  # the STT engine is tested in tests/stt; here only the hand-over
        assert path == clip
        return UserText("위치 알려주세요", 0.8)

    printed = drive(bot, [f"/audio {clip}"], audio=fake_stt)
    assert "heard: '위치 알려주세요' (confidence 0.80)" in printed
    assert "bot> 저희 가게는 강남역 2번 출구 앞에 있습니다." in printed


class Borrowed:
    """The session's loaded Bot for the CLI (loading another copy would take ~30 s); not closed."""

    def __init__(self, bot):
        self._bot = bot

    def __getattr__(self, name):
        return getattr(self._bot, name)

    def close(self):
        pass


def test_callbot_shell_command_reads_korean_lines_from_stdin(tiny, monkeypatch):
    bot, folder = tiny
    loaded_with = []

    async def load(config):
        loaded_with.append(config.path)
        return Borrowed(bot)

    monkeypatch.setattr("bot.runtime.Bot.load", load)
    result = CliRunner().invoke(
        app,
        ["--config", str(folder / "callbot.yml"), "shell", "--json"],
        input="영업시간 알려주세요\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows[1]["input"] == "영업시간 알려주세요"
    assert rows[1]["text"] == "영업시간은 오전 11시부터 오후 10시까지입니다."
    assert rows[1]["intent"] == "store_hours"
    assert loaded_with == [folder / "callbot.yml"]


def test_callbot_shell_without_models_is_a_clean_error(tmp_path):
    config = tmp_path / "callbot.yml"
    config.write_text(f"paths:\n  models_dir: {tmp_path / 'none'}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "shell"], input="")
    assert result.exit_code == 1
    assert "run `callbot train`" in result.output
