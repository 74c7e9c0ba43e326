"""Reply latency: measuring it (simulator, call log stages) and the parts that cut it (streamed TTS, warm-up)."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from telephony import protocol
from telephony.calllog import CallLog, TurnRecord
from telephony.playback import Playback
from telephony.settings import TelephonySettings, TtsSettings
from telephony.sim_media import last_speech_frame
from telephony.simulator import AudioTurn, simulate_call
from telephony.tts.espeak import EspeakTts, split_first_sentence
from telephony.tts_cache import AudioCache
from telephony.warmup import warm_audio, warm_recognizers
from tests.telephony.telephony_fakes import ADMIN_TOKEN, AUTH_TOKEN, tone

SILENT_FRAME = b"\xff" * protocol.FRAME_BYTES


def test_last_speech_frame_ignores_trailing_silence() -> None:
    audio = SILENT_FRAME * 3 + tone(0.5) + SILENT_FRAME * 20
    assert last_speech_frame(audio) == 3 + 25 - 1
    assert last_speech_frame(SILENT_FRAME * 10) is None and last_speech_frame(b"") is None
    assert last_speech_frame(tone(0.03)) == 1  # a partial last frame counts (padded as it is sent)


def test_simulated_call_times_reply_from_end_of_speech_and_logs_stages(fake_server) -> None:  # noqa: ANN001
    trailing = 0.2  # seconds of silence in the clip after the speech (less than FakeStream's 300 ms)
    with fake_server(script=["영업시간 알려주세요"]) as srv:
        turn = AudioTurn(ulaw=tone(0.6) + SILENT_FRAME * int(trailing * 50))
        result = asyncio.run(
            simulate_call(srv.url, [turn], auth_token=AUTH_TOKEN, admin_token=ADMIN_TOKEN, reply_timeout=5)
        )
    assert len(result.speech_end_latencies_ms) == len(result.reply_latencies_ms) == 1
    # Real-time pacing: the clip's trailing silence is part of the end-of-speech latency only.
    gap = result.speech_end_latencies_ms[0] - result.reply_latencies_ms[0]
    assert trailing * 1000 - 60 <= gap <= trailing * 1000 + 60
    # FakeStream ends an utterance after 300 ms of quiet: the reply cannot come sooner than that.
    assert result.speech_end_latencies_ms[0] >= 300
    speech = result.log["turns"][1]
    for key in ("final_ms", "reply_ms", "tts_ms", "first_audio_ms"):
        assert speech[key] is not None and speech[key] >= 0, key
    assert speech["tts_ms"] == pytest.approx(speech["first_audio_ms"] - speech["reply_ms"], abs=0.2)


def test_call_log_adds_new_columns_to_an_old_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as db:  # the turns table as it was before the latency columns
        db.execute(
            sa.text("CREATE TABLE calls (call_sid VARCHAR(64) PRIMARY KEY, started_at FLOAT NOT NULL)")
        )
        db.execute(
            sa.text(
                "CREATE TABLE turns (id INTEGER PRIMARY KEY, call_sid VARCHAR(64), turn INTEGER, "
                "kind VARCHAR(16), at FLOAT, first_audio_ms FLOAT)"
            )
        )
    engine.dispose()
    log = CallLog(url)
    try:
        log.add_turn(TurnRecord("CA1", 1, "speech", 1.0, final_ms=120.5, reply_ms=40.0, tts_ms=8.0))
        columns = {c["name"] for c in sa.inspect(log.engine).get_columns("turns")}
        assert {"final_ms", "decode_wait_ms", "reply_ms", "tts_ms", "reply", "audio_path"} <= columns
        with log.engine.connect() as db:
            assert db.execute(sa.text("SELECT final_ms, tts_ms FROM turns")).one() == (120.5, 8.0)
    finally:
        log.close()
    CallLog(url).close()  # opening an up-to-date database changes nothing


def test_playback_sends_the_first_piece_before_the_rest_is_synthesized() -> None:
    async def main() -> tuple[list[str], float | None, bool]:
        sent: list[str] = []
        second_ready = asyncio.Event()
        closed = False

        async def send(text: str) -> None:
            sent.append(text)

        async def pieces() -> AsyncIterator[bytes]:
            nonlocal closed
            try:
                yield b"\x01" * 250  # 1.56 frames: the remainder waits for the next piece
                await second_ready.wait()
                yield b"\x02" * 100
            finally:
                closed = True

        player = Playback("MZ1", send, lambda: None)
        task = asyncio.ensure_future(player.play(pieces(), since=0.0))
        await asyncio.sleep(0.05)
        assert len(sent) == 1 and player.playing == "reply-1"  # one whole frame out, before piece two
        second_ready.set()
        first_ms = await task
        return sent, first_ms, closed

    sent, first_ms, closed = asyncio.run(main())
    messages = [json.loads(m) for m in sent]
    assert [m["event"] for m in messages] == ["media", "media", "media", "mark"]
    audio = b"".join(base64.b64decode(m["media"]["payload"]) for m in messages[:3])
    assert audio == b"\x01" * 250 + b"\x02" * 100 + b"\xff" * 130  # joined across pieces, padded once
    assert first_ms is not None and closed


def test_playback_stops_and_closes_the_stream_on_barge_in() -> None:
    async def main() -> tuple[int, bool]:
        closed = False
        player: Playback

        async def send(text: str) -> None:
            if '"media"' in text and player.frames_out == 3:
                player.ended()  # the caller barged in (a clear) while frames were going out

        async def pieces() -> AsyncIterator[bytes]:
            nonlocal closed
            try:
                yield b"\x01" * 1600
                yield b"\x02" * 1600
            finally:
                closed = True

        player = Playback("MZ1", send, lambda: None)
        await player.play(pieces(), since=0.0)
        return player.frames_out, closed

    frames_out, closed = asyncio.run(main())
    assert frames_out == 4 and closed  # no more frames after the clear; the synthesis was dropped


def test_first_sentence_split() -> None:
    assert split_first_sentence("어느 매장인가요? 종로점, 강남점 중에서 말씀해 주세요.") == (
        "어느 매장인가요?",
        "종로점, 강남점 중에서 말씀해 주세요.",
    )
    assert split_first_sentence(" 네, 알겠습니다. ") == ("네, 알겠습니다.", "")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_streams_the_first_sentence_as_its_own_piece() -> None:
    tts = EspeakTts(TtsSettings())
    text = "어느 매장인가요? 종로점, 강남점, 잠실점, 홍대점 중에서 말씀해 주세요."

    async def collect() -> list[bytes]:
        return [piece async for piece in tts.stream(text)]

    pieces = asyncio.run(collect())
    first_alone = asyncio.run(tts.synthesize("어느 매장인가요?"))
    assert len(pieces) == 2 and pieces[0] == first_alone
    assert len(pieces[1]) > len(pieces[0]) > 0.3 * protocol.PHONE_RATE


class _WarmRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []

    def warm(self, count: int, pcm16: bytes, sample_rate: int) -> int:
        self.calls.append((count, len(pcm16), sample_rate))
        return count


def test_warm_up_decodes_cached_reply_audio(tmp_path: Path) -> None:
    cache = tmp_path / "var" / "tts_cache"
    cache.mkdir(parents=True)
    for i in range(5):
        (cache / f"{i:02d}.ulaw").write_bytes(tone(2.0))
    pcm = warm_audio(cache, seconds=5.0)
    assert len(pcm) == 2 * 2 * (2 * 8000 + 4000)  # two 2 s clips (5 s), each with 0.5 s of silence after it
    settings = TelephonySettings(state_dir=tmp_path / "var", warm_recognizers=3)
    recognizer = _WarmRecorder()
    assert warm_recognizers(recognizer, settings) == 3
    assert recognizer.calls[0][0] == 3 and recognizer.calls[0][2] == protocol.PHONE_RATE
    empty = TelephonySettings(state_dir=tmp_path / "nothing", warm_recognizers=3)
    assert warm_recognizers(recognizer, empty) == 0  # no cached audio: nothing to warm with
    assert (
        warm_recognizers(recognizer, TelephonySettings(state_dir=tmp_path / "var", warm_recognizers=0)) == 0
    )
    assert len(recognizer.calls) == 1


def test_cached_reply_audio_is_kept_in_memory_once_read(tmp_path: Path) -> None:
    key = ("안내 말씀", "ko", "espeak")
    writer = AudioCache(tmp_path)
    assert writer.in_memory(*key) is None
    writer.put(*key, b"\x01" * 160)
    assert writer.in_memory(*key) == b"\x01" * 160
    reader = AudioCache(tmp_path)  # another process (a restarted server): nothing read yet
    assert reader.in_memory(*key) is None
    assert reader.get(*key) == b"\x01" * 160 and reader.in_memory(*key) == b"\x01" * 160
    assert reader.in_memory("다른 말", "ko", "espeak") is None
