"""Candidate vs production: compare two model versions on the eval sets, gate the promotion, promote
(switch `models/current` and reload every replica through the existing mechanism), roll back.

A comparison parses every eval text with both versions (router -> domain model -> rejection rule, as
`callbot nlu eval` does): accuracy per set, per-intent F1 change, and the texts whose answer flipped.
The gate (`console.gate_max_drop_points`, default 1) refuses a candidate whose accuracy drops on any set
by more than that many points. Promotion and rollback are recorded in `console_audit`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from console import ConsoleError
from console.store import audit, audit_table

Reload = Callable[[], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class SetResult:
    name: str
    count: int
    production: float
    candidate: float

    @property
    def change_points(self) -> float:
        return round((self.candidate - self.production) * 100, 2)


@dataclass(frozen=True)
class ConversationSetResult:
    """One conversation suite (`console.conversations`) played with both versions."""

    name: str
    count: int
    production_passed: int
    candidate_passed: int
    flipped: list[dict[str, Any]]  # conversation, source, better, check, message (the failing side's)

    @property
    def production(self) -> float:
        return round(self.production_passed / self.count, 4) if self.count else 0.0

    @property
    def candidate(self) -> float:
        return round(self.candidate_passed / self.count, 4) if self.count else 0.0

    @property
    def change_points(self) -> float:
        return round((self.candidate - self.production) * 100, 2)

    def to_dict(self) -> dict[str, Any]:
        rates = {"production": self.production, "candidate": self.candidate}
        return {**asdict(self), **rates, "change_points": self.change_points}


@dataclass(frozen=True)
class Comparison:
    production: str
    candidate: str
    sets: list[SetResult]
    per_intent: list[dict[str, Any]]  # intent, support, production F1, candidate F1, change
    flipped: list[dict[str, Any]]  # set, text, gold, production, candidate, better
    at: float = field(default_factory=time.time)
    conversations: list[ConversationSetResult] = field(default_factory=list)  # pass rates per suite

    def gate(self, max_drop_points: float, conversation_max_drop_points: float = 0.0) -> list[str]:
        """Why the candidate may not be promoted (empty: it may): a set's accuracy down by more than
        `max_drop_points`, a conversation suite's pass rate down by more than `conversation_max_drop_points`."""
        return [
            f"{s.name}: accuracy {s.production:.1%} -> {s.candidate:.1%} ({s.change_points:+.1f} points, "
            f"more than {max_drop_points:g} down)"
            for s in self.sets
            if s.change_points < -max_drop_points
        ] + [
            f"{c.name}: conversations passed {c.production_passed}/{c.count} -> {c.candidate_passed}/{c.count} "
            f"({c.change_points:+.1f} points, more than {conversation_max_drop_points:g} down)"
            for c in self.conversations
            if c.change_points < -conversation_max_drop_points
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "sets": [{**asdict(s), "change_points": s.change_points} for s in self.sets],
            "conversations": [c.to_dict() for c in self.conversations],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """A comparison as `to_dict` wrote it (a job's result in the database, read by any replica)."""
        own = {f.name for f in fields(cls)}
        set_fields = {f.name for f in fields(SetResult)}
        sets = [SetResult(**{k: v for k, v in s.items() if k in set_fields}) for s in data.get("sets", [])]
        suite_fields = {f.name for f in fields(ConversationSetResult)}
        suites = [
            ConversationSetResult(**{k: v for k, v in c.items() if k in suite_fields})
            for c in data.get("conversations", [])
        ]
        return cls(**{**{k: v for k, v in data.items() if k in own}, "sets": sets, "conversations": suites})


def versions(models_dir: Path) -> tuple[str | None, list[str]]:
    """The current version and every complete version, newest first."""
    from bot.models import list_versions, read_current_version

    return read_current_version(models_dir), list(reversed(list_versions(models_dir)))


class AgentCache:
    """Loaded Rasa agents by archive file: a candidate that retrained one domain reuses production's
    other archives (hard links or copies of the same file), so a comparison loads only what changed,
    and comparing again loads nothing. Keeps the `size` most recently used."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._agents: dict[tuple[int, int, int, int], Any] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, path: Path) -> Any:
        from bot.nlu.parser import load_agent

        st = path.stat()
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            agent = self._agents.pop(key, None)
            if agent is None:
                agent = load_agent(path)
                self.loads += 1
            self._agents[key] = agent
            while len(self._agents) > self.size:
                self._agents.pop(next(iter(self._agents)))
        return agent


def compare(
    models_dir: Path,
    production: str,
    candidate: str,
    files: list[Path],
    common_domain: str = "common",
    agents: AgentCache | None = None,
    extra_sets: dict[str, list[Any]] | None = None,
) -> Comparison:
    """Parse the eval sets (the files, and `extra_sets` of `bot.evaluate.LabelledText`: the operators'
    held-out labels) with both versions (blocking: seconds per model to load; run it as a job)."""
    from bot.evaluate import EvalDataError, predict, read_labelled, score
    from bot.models import ROUTER, ModelNotFoundError, load_model_set
    from bot.nlu.decision import Thresholds
    from bot.nlu.parser import NluModels

    agents = agents or AgentCache()

    if production == candidate:
        raise ConsoleError(f"candidate and production are the same version {production}")
    try:
        sets = {f.name: read_labelled(f) for f in files}
        sets.update({name: group for name, group in (extra_sets or {}).items() if group})
        model_sets = [load_model_set(models_dir, v) for v in (production, candidate)]
    except (EvalDataError, ModelNotFoundError) as exc:
        raise ConsoleError(str(exc)) from exc
    items = [item for group in sets.values() for item in group]
    preds = []
    for model_set in model_sets:
        loaded = {name: agents.get(path) for name, path in model_set.paths.items()}
        router = loaded.pop(ROUTER)
        models = NluModels(router, loaded, Thresholds.from_manifest(model_set.thresholds))
        preds.append(asyncio.run(predict(models, items)))
    prod, cand = preds
    results = []
    start = 0
    for name, group in sets.items():
        p, c = prod[start : start + len(group)], cand[start : start + len(group)]
        start += len(group)
        results.append(SetResult(name, len(group), _accuracy(p), _accuracy(c)))
    before, after = score("all", prod, common_domain), score("all", cand, common_domain)
    per_intent = []
    for intent in sorted(set(before.per_intent) | set(after.per_intent)):
        b, a = before.per_intent.get(intent, {}), after.per_intent.get(intent, {})
        f1_b, f1_a = b.get("f1", 0.0), a.get("f1", 0.0)
        per_intent.append(
            {
                "intent": intent,
                "support": int(a.get("support") or b.get("support") or 0),
                "production": f1_b,
                "candidate": f1_a,
                "change": round(f1_a - f1_b, 4),
            }
        )
    per_intent.sort(key=lambda r: (r["change"], r["intent"]))
    flipped = [
        {
            "set": p.item.source,
            "text": p.item.text,
            "gold": p.gold,
            "production": p.predicted,
            "candidate": c.predicted,
            "better": c.correct,
        }
        for p, c in zip(prod, cand, strict=True)
        if p.correct != c.correct
    ]
    return Comparison(production, candidate, results, per_intent, flipped)


def _accuracy(preds: list[Any]) -> float:
    return round(sum(p.correct for p in preds) / len(preds), 4) if preds else 0.0


async def promote(
    engine: sa.engine.Engine,
    models_dir: Path,
    version: str,
    user: str,
    reload: Reload,
    what: str = "promote",
    store: Any = None,
) -> list[dict[str, Any]]:
    """Point `models/current` at `version`, then reload the replicas; recorded with the version before.
    With a model store (`bot.model_store`) the version is published there first, so a replica whose
    models folder lacks it fetches it when it reloads."""
    from bot.model_store import ModelStoreError
    from bot.models import list_versions, read_current_version, switch_current

    if version not in list_versions(models_dir):
        raise ConsoleError(f"no complete model version {version!r} under {models_dir}")
    if store is not None:
        try:
            await asyncio.to_thread(store.publish, models_dir, version)
        except ModelStoreError as exc:
            raise ConsoleError(str(exc)) from exc
    before = read_current_version(models_dir)
    switch_current(models_dir, version)
    if store is not None:  # a replica starting later without models/current serves this one
        try:
            await asyncio.to_thread(store.set_current, version)
        except ModelStoreError as exc:
            raise ConsoleError(str(exc)) from exc
    await asyncio.to_thread(audit, engine, user, what, f"from={before} to={version}")
    return await reload()


def last_promotion(engine: sa.engine.Engine) -> dict[str, str] | None:
    """The latest promote or rollback: {'from': version, 'to': version, 'user': name}."""
    with engine.connect() as db:
        row = db.execute(
            sa.select(audit_table.c.user, audit_table.c.what, audit_table.c.detail)
            .where(audit_table.c.what.in_(("promote", "rollback")))
            .order_by(audit_table.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    parts = dict(p.split("=", 1) for p in str(row.detail).split())
    return {"from": parts.get("from", ""), "to": parts.get("to", ""), "user": row.user, "what": row.what}


async def rollback(
    engine: sa.engine.Engine, models_dir: Path, user: str, reload: Reload, store: Any = None
) -> list[dict[str, Any]]:
    """Go back to the version the last promotion replaced."""
    last = await asyncio.to_thread(last_promotion, engine)
    if last is None or last["what"] != "promote" or not last["from"] or last["from"] == "None":
        raise ConsoleError("nothing to roll back: no promotion since the last rollback")
    return await promote(engine, models_dir, last["from"], user, reload, what="rollback", store=store)
