"""Where the bot keeps each call's dialogue state: in this process, and with Redis for a whole cluster.

A call's state is its `DialogueSession` (routing state: sticky domain, failure counters, last reply...)
plus one Rasa tracker per domain it talked to. Turns always run on in-process copies. The telephony
layer asks for a `StateSnapshot` once the caller starts hearing a reply and writes it, in one
transaction with the call's progress (telephony/call_state.py), to Redis (`state.redis_url`, several
replicas) or to the in-process `MemoryStore` (one process): a stream that resumes the call, here or on
another replica, reads exactly the state whose reply the caller heard.

Keys (prefix `state.key_prefix`, all expiring `state.call_ttl_seconds` after the last write and
deleted when the call ends):
  <prefix>:session:<CallSid>                the DialogueSession, every dataclass field (callbot.dataclass_json)
  <prefix>:tracker:<domain>:<CallSid>       the domain's Rasa tracker: Rasa's own `RedisTrackerStore`
                                            format and key scheme, read back through it
  <prefix>:lock:<CallSid>                   Rasa's `RedisLockStore` ticket lock of the call's turns

Rasa's `RedisTrackerStore.save` is not used for writing: it writes one tracker per call (not the
session with it, not atomically) and at the end of Rasa's turn, before the caller hears the reply. A
replica killed in between would leave Redis a turn ahead of what the caller heard. When Redis is
unreachable, turns go on in-process (`RedisLink` marks it down, the lock store falls back to memory,
snapshots fail and are written whole at the next turn after it answers again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore

from bot.session import DialogueSession
from callbot import dataclass_json
from callbot.state import RedisLink, StateUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StateSnapshot:
    """Redis keys to set (value, expiry in seconds) and to delete so Redis holds a call's state now."""

    writes: dict[str, tuple[str, int]]
    deletes: tuple[str, ...] = ()
    # (store, call, save count): trackers this snapshot carries, marked written once it is stored
    marks: tuple[tuple[CallTrackerStore, str, int], ...] = ()

    def stored(self) -> None:
        """The snapshot is in Redis: its trackers need no writing until they change again."""
        for store, call_id, count in self.marks:
            store.written(call_id, count)


class CallTrackerStore(InMemoryTrackerStore):
    """The trackers of one domain for the calls on this replica (Rasa's in-memory store, which keeps
    them serialised), plus the tracker object saved last per call, so the runtime reads slots and the
    active form without deserialising every event (~1.5 ms).

    A call's tracker that is not in memory is read through `remote` (Rasa's `RedisTrackerStore`): the
    call's stream moved here.
    """

    def __init__(self, remote: RedisTrackerStore, link: RedisLink) -> None:
        super().__init__(None)
        self.recent: dict[str, Any] = {}
        self.remote = remote
        self._link = link
        self._saves: dict[str, int] = {}
        self._written: dict[str, int] = {}

    async def save(self, tracker: Any) -> None:
        await super().save(tracker)
        self.recent[tracker.sender_id] = tracker
        self._saves[tracker.sender_id] = self._saves.get(tracker.sender_id, 0) + 1

    async def _retrieve(self, sender_id: str, fetch_all_sessions: bool) -> Any:
        if sender_id not in self.store:
            await self._fetch(sender_id)
        return await super()._retrieve(sender_id, fetch_all_sessions)

    async def _fetch(self, sender_id: str) -> None:
        """Copy the call's tracker from Redis (through Rasa's RedisTrackerStore) into memory."""
        if not self._link.up:
            return  # Redis is down: the call goes on with a new tracker in this domain
        self.remote.domain = self.domain  # the Agent's domain: slots are restored with their types
        try:
            tracker = await self.remote.retrieve_full_tracker(sender_id)  # blocking I/O, Rasa thread
        except self._link.errors as exc:
            self._link.mark_down(exc)
            return
        if tracker is not None:
            await super().save(tracker)
            self._written[sender_id] = self._saves[sender_id] = self._saves.get(sender_id, 0)
            logger.info("bot.state.tracker_restored call=%s events=%d", sender_id, len(tracker.events))

    def serialised(self, sender_id: str) -> str | None:
        return self.store.get(sender_id)

    def unwritten(self, sender_id: str) -> int | None:
        """The save count of the call's tracker if Redis does not have it yet, else None."""
        count = self._saves.get(sender_id)
        if count is None or self._written.get(sender_id) == count:
            return None
        return count

    def written(self, sender_id: str, count: int) -> None:
        if sender_id in self._saves:
            self._written[sender_id] = count

    def forget(self, sender_id: str) -> None:
        self.store.pop(sender_id, None)
        self.recent.pop(sender_id, None)
        self._saves.pop(sender_id, None)
        self._written.pop(sender_id, None)


class TrackerStores(dict[str, CallTrackerStore]):
    """Domain -> its tracker store, created on first use; shared by every model version."""

    def __init__(self, factory: Callable[[str], CallTrackerStore]) -> None:
        super().__init__()
        self._factory = factory

    def __missing__(self, domain: str) -> CallTrackerStore:
        store = self[domain] = self._factory(domain)
        return store


class FailoverLockStore(LockStore):
    """Rasa's `RedisLockStore` while Redis answers (turns of one call never overlap, whichever replica
    runs them), an in-memory lock store while it does not (the call goes on here).

    Lock keys expire `state.lock_lifetime_seconds` after their last change: a replica killed mid-turn
    leaves no lock behind for longer than that (and a resume deletes it at once).
    """

    def __init__(self, link: RedisLink, lifetime: float) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.memory = InMemoryLockStore()
        self.redis = RedisLockStore()
        self.redis.red = link.client
        self.redis.key_prefix = link.key("lock") + ":"
        self._link = link

    def lock(
        self, conversation_id: str, lock_lifetime: float | None = None, wait_time_in_seconds: float = 0.1
    ):  # noqa: ANN201
        return super().lock(conversation_id, lock_lifetime or self.lifetime, wait_time_in_seconds)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        try:
            return self._link.run(lambda _: self.redis.get_lock(conversation_id))
        except StateUnavailable:
            return self.memory.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self.memory.delete_lock(conversation_id)
        try:
            self._link.run(lambda _: self.redis.delete_lock(conversation_id))
        except StateUnavailable:
            pass

    def save_lock(self, lock: TicketLock) -> None:
        key = self.redis.key_prefix + lock.conversation_id
        ttl = max(1, int(self.lifetime) + 1)
        try:
            self._link.run(lambda red: red.set(key, lock.dumps(), ex=ttl))
        except StateUnavailable:
            self.memory.save_lock(lock)


class DialogueState:
    """The tracker stores, the lock store and session persistence of one `Bot` (see module doc)."""

    def __init__(self, link: RedisLink | None = None) -> None:
        """`link`: Redis shared by the replicas, or (default) an in-process store."""
        self.link = link or RedisLink.memory()
        self.settings = self.link.settings
        self.trackers = TrackerStores(self._new_store)
        self.locks: LockStore = (
            FailoverLockStore(self.link, self.settings.lock_lifetime_seconds)
            if self.link.shared
            else InMemoryLockStore()
        )

    def snapshot(self, session: DialogueSession) -> StateSnapshot:
        """The keys that store the call's state now (or delete it, once the call has ended)."""
        call_id = session.call_id
        if session.ended:
            keys = [self._session_key(call_id), self.link.key("lock", call_id)]
            keys += [s.remote.key_prefix + call_id for s in self.trackers.values()]
            return StateSnapshot(writes={}, deletes=tuple(keys))
        ttl = int(self.settings.call_ttl_seconds)
        writes = {self._session_key(call_id): (dataclass_json.dumps(session), ttl)}
        marks = []
        for store in self.trackers.values():
            count = store.unwritten(call_id)
            text = store.serialised(call_id)
            if count is None or text is None:
                continue
            writes[store.remote.key_prefix + call_id] = (text, ttl)
            marks.append((store, call_id, count))
        return StateSnapshot(writes=writes, marks=tuple(marks))

    async def resume(self, call_id: str) -> DialogueSession | None:
        """The session of a call whose stream moved to this replica (None: no state survived)."""
        self.forget(call_id)  # in-process copies may be ahead of what the caller heard, or stale
        key, lock = self._session_key(call_id), self.link.key("lock", call_id)
        link = self.link

        def read(red: Any) -> bytes | None:
            red.delete(lock)  # the stream it guarded is gone; a killed replica cannot release it
            return red.get(key)

        try:
            raw = await asyncio.to_thread(link.run, read)
        except StateUnavailable as exc:
            logger.warning("bot.state.resume_unavailable call=%s error=%s", call_id, exc)
            return None
        if raw is None:
            return None
        try:
            return dataclass_json.loads(DialogueSession, raw)
        except (dataclass_json.CodecError, ValueError, TypeError) as exc:
            logger.error("bot.state.resume_unreadable call=%s error=%s", call_id, exc)
            return None

    def release(self, session: DialogueSession) -> None:
        """The call's stream left this replica but the call goes on: the stored state (as of the reply
        the caller last heard) is what a resume reads, so the in-process copies go."""
        self.forget(session.call_id)

    def forget(self, call_id: str) -> None:
        for store in self.trackers.values():
            store.forget(call_id)

    def _session_key(self, call_id: str) -> str:
        return self.link.key("session", call_id)

    def _new_store(self, domain: str) -> CallTrackerStore:
        remote = RedisTrackerStore(None, record_exp=self.settings.call_ttl_seconds)
        remote.red = self.link.client
        remote.key_prefix = self.link.key("tracker", domain) + ":"
        return CallTrackerStore(remote, self.link)
