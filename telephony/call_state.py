"""A call's progress, kept where every replica can read it, so a call survives the replica it was on.

`CallProgress` is what the telephony layer needs to pick a call up: the turn counter (call-log turns
go on numbering), the question the caller last started hearing (asked again after a move), whether the
call ended (a reconnect then gets <Hangup/>). `CallStates` stores it in-process, or with
`state.redis_url` in Redis (`<prefix>:call:<CallSid>`), in one MULTI/EXEC transaction with the bot's
dialogue state (`bot.dialogue_state.StateSnapshot`): the two never disagree about which turn the
caller heard. Without Redis the same keys live in the process's `MemoryStore` (a call whose stream
drops can still resume here). Writes run on one thread, in order, off the event loop; while Redis is
down they fail fast (`RedisLink`), the call goes on in-process, and the next write after Redis answers
again stores everything that changed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from callbot import dataclass_json
from callbot.state import RedisLink, StateSettings, StateUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallProgress:
    call_sid: str
    turn: int = 0  # the last caller turn whose reply the caller started hearing
    prompt: str = ""  # that reply: the pending question, asked again when the call moves
    ended: bool = False  # the call is over (bot hangup or handoff, caller hangup)
    reason: str = ""
    resumes: int = 0  # times the call's stream moved (to this or another replica)
    replica: str = ""  # the replica that wrote this
    at: float = 0.0


class CallStates:
    """Progress of every call: in this process, or in Redis shared by every replica (see module doc)."""

    def __init__(self, link: RedisLink, replica: str = "") -> None:
        self.link = link
        self.settings: StateSettings = link.settings
        self.replica = replica
        self._local: dict[str, CallProgress] = {}
        self._used: dict[str, float] = {}  # stream token nonces used here (all of them without Redis)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callbot-state")

    @property
    def shared(self) -> bool:
        return self.link.shared

    async def load(self, call_sid: str) -> CallProgress | None:
        """The call's progress, or None (a new call, or nothing survived)."""
        return (await self.find(call_sid))[0]

    async def find(self, call_sid: str) -> tuple[CallProgress | None, bool]:
        """(progress, known): `known` is False when Redis could not be asked (None then means "unknown")."""
        key = self.link.key("call", call_sid)
        try:
            raw = await self._run(lambda red: red.get(key))
        except StateUnavailable:
            return self._local.get(call_sid), False
        if raw is None:
            return self._local.get(call_sid), True
        try:
            return dataclass_json.loads(CallProgress, raw), True
        except (ValueError, TypeError) as exc:
            logger.error("telephony.state.unreadable call=%s error=%s", call_sid, exc)
            return None, False

    async def save(self, progress: CallProgress, snapshot: Any = None) -> bool:
        """Store the progress (and the bot's `StateSnapshot`) in one transaction; False while Redis is
        down (the state stays in-process and is written at the next save after it answers)."""
        progress = replace(progress, replica=self.replica, at=time.time())
        self._keep_local(progress)
        link = self.link
        ttl = int(self.settings.ended_ttl_seconds if progress.ended else self.settings.call_ttl_seconds)
        key, value = link.key("call", progress.call_sid), dataclass_json.dumps(progress)
        writes = dict(snapshot.writes) if snapshot is not None else {}
        deletes = tuple(snapshot.deletes) if snapshot is not None else ()

        def write(red: Any) -> None:
            pipe = red.pipeline(transaction=True)
            pipe.set(key, value, ex=ttl)
            for k, (v, ex) in writes.items():
                pipe.set(k, v, ex=ex)
            if deletes:
                pipe.delete(*deletes)
            pipe.execute()

        try:
            await self._run(write)
        except StateUnavailable:
            return False
        if snapshot is not None:
            snapshot.stored()
        return True

    async def claim_nonce(self, nonce: str, expiry: float) -> bool:
        """Mark a stream token's nonce used: True the first time across the cluster (SET NX with expiry);
        while Redis is down, the first time on this replica."""
        now = time.time()
        for n in [n for n, exp in self._used.items() if exp < now]:
            del self._used[n]
        if nonce in self._used:
            return False
        self._used[nonce] = expiry
        if not self.link.shared:
            return True
        key, ttl = self.link.key("token", nonce), max(1, int(expiry - now) + 1)
        try:
            return bool(await self._run(lambda red: red.set(key, self.replica or "1", nx=True, ex=ttl)))
        except StateUnavailable:
            logger.warning(
                "telephony.state.token_local nonce=%s (Redis down: single use on this replica)", nonce
            )
            return True

    async def shared_secret(self, candidate: bytes) -> bytes:
        """One secret for every replica's stream tokens: the first replica's `candidate` wins (SET NX)."""
        if not self.link.shared:
            return candidate
        key = self.link.key("stream-secret")

        def get_or_set(red: Any) -> bytes:
            red.set(key, candidate.hex(), nx=True)
            return bytes.fromhex(red.get(key).decode())

        return await self._run(get_or_set)

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    async def _run(self, op: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self.link.run, op)

    def _keep_local(self, progress: CallProgress) -> None:
        """A copy in this process: the fallback while Redis is down (and it comes back up empty)."""
        self._local[progress.call_sid] = progress
        if len(self._local) % 64 == 0:
            now = time.time()
            for sid, p in list(self._local.items()):
                ttl = self.settings.ended_ttl_seconds if p.ended else self.settings.call_ttl_seconds
                if p.at < now - ttl:
                    del self._local[sid]
