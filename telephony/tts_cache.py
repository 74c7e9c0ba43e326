"""Pre-rendered audio of fixed replies, so a reply starts with no synthesis delay.

Files are 8 kHz mu-law, content-addressed by a hash of (text, voice, backend) under
`<state_dir>/tts_cache/`, shared by every model version. `build_cache` is the `tts_cache` post-train
hook: it renders every fixed response (no `{slot}` placeholder) of every domain in build/rasa/.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from callbot.config import Config
from telephony import TtsError
from telephony.settings import read_telephony_settings
from telephony.tts import TextToSpeech, create_tts

logger = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
RECENT_REPLIES = 64  # synthesized non-fixed replies kept in memory (~40 KB each)


def cache_key(text: str, voice: str, backend: str) -> str:
    return hashlib.sha256(f"{backend}\0{voice}\0{text}".encode()).hexdigest()[:40]


class AudioCache:
    """A folder of `<key>.ulaw` files; writes are atomic (temp file + rename).

    Clips read once stay in memory (fixed replies only, a few MB): a hit then costs no thread hop, which
    under load queued behind synthesis work for hundreds of ms.
    """

    MEMORY_ENTRIES = 512

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._memory: dict[str, bytes] = {}

    def in_memory(self, text: str, voice: str, backend: str) -> bytes | None:
        """The clip if it was read (or written) before; never touches the disk."""
        return self._memory.get(cache_key(text, voice, backend))

    def path(self, text: str, voice: str, backend: str) -> Path:
        return self.folder / f"{cache_key(text, voice, backend)}.ulaw"

    def get(self, text: str, voice: str, backend: str) -> bytes | None:
        p = self.path(text, voice, backend)
        try:
            audio = p.read_bytes()
        except FileNotFoundError:
            return None
        self._remember(p.stem, audio)
        return audio

    def put(self, text: str, voice: str, backend: str, audio: bytes) -> Path:
        p = self.path(text, voice, backend)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(audio)
        os.replace(tmp, p)
        self._remember(p.stem, audio)
        return p

    def _remember(self, key: str, audio: bytes) -> None:
        if len(self._memory) < self.MEMORY_ENTRIES:
            self._memory[key] = audio


class CachedSpeech:
    """A TTS backend in front of the cache: fixed texts come from (and fill) the cache, others live.

    Replies that are not fixed but recur (a question listing the stores, read from the store table)
    are kept in memory only, the `recent` most recently spoken: they may carry callers' slot values,
    which never go to disk.
    """

    def __init__(self, tts: TextToSpeech, cache: AudioCache | None, recent: int = RECENT_REPLIES) -> None:
        self.tts = tts
        self.cache = cache
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self._recent_max = recent
        self._synthesizing: dict[tuple[str, bool], _SharedSynthesis] = {}  # (text, fixed) -> in flight

    def _recalled(self, text: str) -> bytes | None:
        audio = self._recent.get(text)
        if audio is not None:
            self._recent.move_to_end(text)
        return audio

    def _keep(self, text: str, audio: bytes) -> None:
        if self._recent_max <= 0 or not audio:
            return
        self._recent[text] = audio
        self._recent.move_to_end(text)
        while len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    @property
    def speaks_via_call(self) -> bool:
        return self.tts.speaks_via_call

    async def speech(self, text: str, fixed: bool) -> bytes:
        if (known := await self._lookup(text, fixed)) is not None:
            return known
        audio = await self.tts.synthesize(text)
        await self._store(text, fixed, audio)
        return audio

    async def stream(self, text: str, fixed: bool) -> AsyncIterator[bytes]:
        """`speech`, in pieces: a cache hit at once, else the backend's first piece as soon as it is ready."""
        if (known := await self._lookup(text, fixed)) is not None:
            yield known
            return
        streamer = getattr(self.tts, "stream", None)
        if streamer is None:  # a backend with only `synthesize`
            if audio := await self.speech(text, fixed):
                yield audio
            return
        # Calls that need the same uncached text at the same time (a busy minute: many callers ask the
        # same thing) share one synthesis instead of each running espeak-ng for it.
        shared = self._synthesizing.get((text, fixed))
        if shared is None or shared.abandoned:
            shared = _SharedSynthesis(self._synthesize(streamer, text, fixed))
            self._synthesizing[(text, fixed)] = shared
            shared.task.add_done_callback(lambda _: self._forget(text, fixed, shared))
        async for piece in shared.pieces():
            yield piece

    def _forget(self, text: str, fixed: bool, shared: _SharedSynthesis) -> None:
        if self._synthesizing.get((text, fixed)) is shared:
            del self._synthesizing[(text, fixed)]

    async def _synthesize(self, streamer: Any, text: str, fixed: bool) -> AsyncIterator[bytes]:
        pieces: list[bytes] = []
        async for piece in streamer(text):
            pieces.append(piece)
            yield piece
        await self._store(text, fixed, b"".join(pieces))

    async def _lookup(self, text: str, fixed: bool) -> bytes | None:
        """Audio already made for `text`: the cache (memory, then disk) for fixed texts, else recent replies."""
        if self.cache is not None and fixed:
            name, voice = self.tts.name, self.tts.voice
            return self.cache.in_memory(text, voice, name) or await asyncio.to_thread(
                self.cache.get, text, voice, name
            )
        return None if fixed else self._recalled(text)

    async def _store(self, text: str, fixed: bool, audio: bytes) -> None:
        """Fixed texts go to the cache (disk), others to the recent replies in memory."""
        if self.cache is not None and fixed and audio:
            await asyncio.to_thread(self.cache.put, text, self.tts.voice, self.tts.name, audio)
        elif not fixed:
            self._keep(text, audio)


class _SharedSynthesis:
    """One synthesis read by every call that asked for its text while it ran; each reader gets every
    piece, the first ones at once. Cancelled when its last reader stops (e.g. a barge-in)."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._got: list[bytes] = []
        self._done = False
        self._error: BaseException | None = None
        self._changed = asyncio.Condition()
        self._readers = 0
        self.abandoned = False  # cancelled: later callers start their own synthesis
        self.task = asyncio.ensure_future(self._fill(source))

    async def _fill(self, source: AsyncIterator[bytes]) -> None:
        try:
            async for piece in source:
                async with self._changed:
                    self._got.append(piece)
                    self._changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to every reader
            self._error = exc if not isinstance(exc, asyncio.CancelledError) else TtsError("cancelled")
        finally:
            async with self._changed:
                self._done = True
                self._changed.notify_all()

    async def pieces(self) -> AsyncIterator[bytes]:
        self._readers += 1
        try:
            i = 0
            while True:
                async with self._changed:
                    while i >= len(self._got) and not self._done:
                        await self._changed.wait()
                if i < len(self._got):
                    i += 1
                    yield self._got[i - 1]
                elif self._error is not None:
                    raise self._error
                else:
                    return
        finally:
            self._readers -= 1
            if not self._readers and not self._done:
                self.abandoned = True
                self.task.cancel()  # nobody will hear it


def fixed_responses(build_dir: Path) -> list[str]:
    """Every response text of every domain in build/rasa/*/domain.yml without a `{slot}` placeholder."""
    texts: dict[str, None] = {}
    for domain_file in sorted((build_dir / "rasa").glob("*/domain.yml")):
        try:
            doc = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise TtsError(f"{domain_file}: invalid YAML: {exc}") from exc
        responses: Any = doc.get("responses") if isinstance(doc, dict) else None
        for variants in (responses or {}).values():
            for variant in variants or []:
                text = variant.get("text") if isinstance(variant, dict) else None
                if isinstance(text, str) and text.strip() and not _PLACEHOLDER.search(text):
                    texts[text] = None
    return list(texts)


def build_cache(config: Config, build_dir: Path, version_dir: Path) -> dict[str, Any]:
    """Post-train hook `tts_cache`: render every fixed response; writes `<version_dir>/tts_cache.json`."""
    settings = read_telephony_settings(config)
    tts = create_tts(settings.tts)
    cache = AudioCache(settings.state_dir / "tts_cache")
    texts = fixed_responses(Path(build_dir))
    extra = [settings.busy_text, settings.silence.handoff_text, settings.silence.goodbye_text]
    texts += [t for t in extra if t and t not in texts]
    rendered = asyncio.run(_render(tts, cache, texts)) if not tts.speaks_via_call else 0
    manifest = {
        "backend": tts.name,
        "voice": tts.voice,
        "folder": str(cache.folder),
        "entries": {cache_key(t, tts.voice, tts.name): t for t in texts},
    }
    version_dir.mkdir(parents=True, exist_ok=True)
    (version_dir / "tts_cache.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    logger.info(
        "telephony.tts_cache.built texts=%d rendered=%d folder=%s", len(texts), rendered, cache.folder
    )
    return {"texts": len(texts), "rendered": rendered, "folder": str(cache.folder)}


async def _render(tts: TextToSpeech, cache: AudioCache, texts: list[str]) -> int:
    rendered = 0
    for text in texts:
        if cache.get(text, tts.voice, tts.name) is None:
            cache.put(text, tts.voice, tts.name, await tts.synthesize(text))
            rendered += 1
    return rendered
