"""Conversation test files: YAML -> typed `Suite`s. Every problem of a file is reported at once.

```yaml
today: 2026-12-02            # callers' relative dates resolve against it (default: the real today)
now: "10:00"                 # optional: the clock time of that day (default 10:00)
reservations:                # rows in the fresh reservation store before each conversation
  - {store: 강남점, date: 2026-12-05, time: "18:30", party_size: 3, name: 이영희, phone: "01055556666"}
conversations:
  - name: all in one
    tags: [fast]             # optional labels (`callbot test conversations --tag fast`)
    steps:
      - user: 모레 저녁 7시에 강남점 두 명 예약해 줘
        intent: reservation_make
        slots: {store: 강남점, party_size: 2}
      - dtmf: "01098765432#"
      - silence: true
      - audio: clips/name.wav   # relative to this file
        bot_says: [성함]
    expect: {reservation: {store: 강남점, date: 2026-12-04, time: "19:00"}, handoff: false}
```
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STEP_KINDS = ("user", "dtmf", "silence", "audio")
STEP_CHECKS = ("intent", "slots", "bot_says")
EXPECT_KEYS = ("reservation", "cancelled", "no_reservation", "handoff", "hangup")
RESERVATION_FIELDS = ("store", "date", "time", "party_size", "name", "phone", "seating")
SEED_FIELDS = (*RESERVATION_FIELDS, "status")
TOP_KEYS = ("today", "now", "reservations", "conversations")
CONVERSATION_KEYS = ("name", "steps", "expect", "tags")
DEFAULT_NOW = dt.time(10, 0)
KEYS = set("0123456789*#")


class ConversationSpecError(Exception):
    """A conversation file is unreadable or has invalid content; the message lists every problem."""


@dataclass(frozen=True)
class Step:
    """One caller action and the optional checks on the bot's answer to it."""

    kind: str  # user | dtmf | silence | audio
    value: str = ""  # the text, the keys, or the audio file (absolute)
    intent: str | None = None
    slots: dict[str, Any] | None = None
    bot_says: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "silence":
            return "(silence)"
        if self.kind == "dtmf":
            return f"[keys {self.value}]"
        if self.kind == "audio":
            return f"[audio {Path(self.value).name}]"
        return self.value


@dataclass(frozen=True)
class Expect:
    """Checks on the outcome of a whole conversation; None means not checked."""

    reservation: dict[str, Any] | None = None
    cancelled: str | None = None  # a phone number
    no_reservation: bool | None = None
    handoff: bool | None = None
    hangup: bool | None = None


@dataclass(frozen=True)
class Conversation:
    name: str
    steps: tuple[Step, ...]
    expect: Expect = Expect()
    tags: tuple[str, ...] = ()
    source: str = ""  # "file.yml#3"


@dataclass(frozen=True)
class Suite:
    """One file: its clock, its reservation rows and its conversations."""

    path: Path
    now: dt.datetime | None  # naive local time (Asia/Seoul); None = the real clock
    reservations: tuple[dict[str, Any], ...] = ()
    conversations: tuple[Conversation, ...] = field(default_factory=tuple)


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named, or found (recursively, sorted) in the folders named."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix in (".yml", ".yaml") and q.is_file())
        elif p.is_file():
            found.append(p)
        else:
            raise ConversationSpecError(f"{p}: no such file or folder")
    if not found:
        raise ConversationSpecError(f"no conversation files (*.yml, *.yaml) in {', '.join(map(str, paths))}")
    return found


def load_suites(paths: Iterable[str | Path]) -> list[Suite]:
    """Every file under `paths`, parsed; one error listing the problems of all files."""
    suites, problems = [], []
    for path in find_files(paths):
        try:
            suites.append(load_suite(path))
        except ConversationSpecError as exc:
            problems.append(str(exc))
    if problems:
        raise ConversationSpecError("\n".join(problems))
    return suites


def load_suite(path: Path) -> Suite:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversationSpecError(f"{path}: cannot read: {exc}") from exc
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for dates like 2026-13-40
        raise ConversationSpecError(f"{path}: invalid YAML: {exc}") from exc
    errors = _Errors(path)
    suite = _suite(path, data, errors)
    errors.raise_if_any()
    return suite


class _Errors:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)

    def raise_if_any(self) -> None:
        if self.items:
            lines = "\n".join(f"  - {e}" for e in self.items)
            raise ConversationSpecError(f"{self.path}: {len(self.items)} problem(s):\n{lines}")


def _suite(path: Path, data: Any, errors: _Errors) -> Suite:
    if not isinstance(data, dict):
        errors.add("", "the top level must be a mapping with `conversations:`")
        return Suite(path, None)
    _unknown(data, TOP_KEYS, "", errors)
    today = _date(data.get("today"), "today", errors) if data.get("today") is not None else None
    at = _time(data.get("now"), "now", errors) if data.get("now") is not None else DEFAULT_NOW
    now = dt.datetime.combine(today, at or DEFAULT_NOW) if today else None
    rows = data.get("reservations") or []
    seeds: list[dict[str, Any]] = []
    if not isinstance(rows, list):
        errors.add("reservations", "expected a list of reservation rows")
    else:
        for i, row in enumerate(rows, 1):
            seed = _reservation(row, f"reservations[{i}]", errors, seed=True)
            if seed is not None:
                seeds.append(seed)
    items = data.get("conversations")
    conversations: list[Conversation] = []
    if not isinstance(items, list) or not items:
        errors.add("conversations", "expected a non-empty list of conversations")
    else:
        for i, item in enumerate(items, 1):
            conv = _conversation(item, i, path, errors)
            if conv is not None:
                conversations.append(conv)
    return Suite(path, now, tuple(seeds), tuple(conversations))


def _conversation(item: Any, index: int, path: Path, errors: _Errors) -> Conversation | None:
    if not isinstance(item, dict):
        errors.add(f"conversation {index}", "expected a mapping with name and steps")
        return None
    name = item.get("name")
    where = f"conversation {index}" + (f" ({name!r})" if name else "")
    if not isinstance(name, str) or not name.strip():
        errors.add(where, "`name` is missing")
    _unknown(item, CONVERSATION_KEYS, where, errors)
    raw_steps = item.get("steps")
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        errors.add(where, "`steps` must be a non-empty list")
    else:
        for j, raw in enumerate(raw_steps, 1):
            step = _step(raw, f"{where}, step {j}", path, errors)
            if step is not None:
                steps.append(step)
    expect = _expect(item.get("expect"), f"{where}, expect", errors)
    tags = item.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors.add(where, "`tags` must be a list of words")
        tags = []
    return Conversation(str(name or ""), tuple(steps), expect, tuple(tags), f"{path.name}#{index}")


def _step(raw: Any, where: str, path: Path, errors: _Errors) -> Step | None:
    if not isinstance(raw, dict):
        errors.add(where, f"expected a mapping with one of {', '.join(STEP_KINDS)}")
        return None
    kinds = [k for k in STEP_KINDS if k in raw]
    _unknown(raw, (*STEP_KINDS, *STEP_CHECKS), where, errors)
    if len(kinds) != 1:
        errors.add(
            where, f"needs exactly one of {', '.join(STEP_KINDS)} (found {', '.join(kinds) or 'none'})"
        )
        return None
    kind = kinds[0]
    value = raw[kind]
    text = ""
    if kind == "user":
        if not isinstance(value, str | int | float) or not str(value).strip():
            errors.add(where, "`user` must be the caller's words")
        text = str(value).strip()
    elif kind == "dtmf":
        text = str(value) if isinstance(value, str | int) else ""
        if not text or set(text) - KEYS:
            errors.add(where, f"`dtmf` must be keys 0-9, * or # in quotes, got {value!r}")
    elif kind == "silence":
        if value is not True:
            errors.add(where, "`silence` must be true")
    else:
        audio = path.parent / str(value)
        if not isinstance(value, str) or not audio.is_file():
            errors.add(where, f"`audio` file not found: {audio}")
        text = str(audio)
    intent = raw.get("intent")
    if intent is not None and not isinstance(intent, str):
        errors.add(where, "`intent` must be an intent name")
    slots = raw.get("slots")
    if slots is not None and not isinstance(slots, dict):
        errors.add(where, "`slots` must be a mapping of slot names to values")
        slots = None
    says = raw.get("bot_says") or []
    says = [says] if isinstance(says, str) else says
    if not isinstance(says, list) or not all(isinstance(s, str) and s for s in says):
        errors.add(where, "`bot_says` must be a phrase or a list of phrases")
        says = []
    return Step(kind, text, intent, _normalized(slots, where, errors), tuple(says))


def _expect(raw: Any, where: str, errors: _Errors) -> Expect:
    if raw is None:
        return Expect()
    if not isinstance(raw, dict):
        errors.add(where, f"expected a mapping with some of {', '.join(EXPECT_KEYS)}")
        return Expect()
    _unknown(raw, EXPECT_KEYS, where, errors)
    reservation = None
    if raw.get("reservation") is not None:
        reservation = _reservation(raw["reservation"], f"{where}.reservation", errors, seed=False)
    cancelled = raw.get("cancelled")
    if cancelled is not None and not _is_phone(cancelled):
        errors.add(f"{where}.cancelled", f"expected a phone number in quotes, got {cancelled!r}")
        cancelled = None
    flags = {}
    for key in ("no_reservation", "handoff", "hangup"):
        value = raw.get(key)
        if value is not None and not isinstance(value, bool):
            errors.add(f"{where}.{key}", f"expected true or false, got {value!r}")
            value = None
        flags[key] = value
    return Expect(reservation=reservation, cancelled=cancelled, **flags)


def _reservation(raw: Any, where: str, errors: _Errors, *, seed: bool) -> dict[str, Any] | None:
    """Normalized reservation fields: date ISO, time HH:MM, party_size int, phone digits."""
    if not isinstance(raw, dict) or not raw:
        errors.add(where, "expected a mapping of reservation fields")
        return None
    _unknown(raw, SEED_FIELDS if seed else RESERVATION_FIELDS, where, errors)
    if seed:
        missing = [f for f in ("date", "time", "party_size", "name", "phone") if raw.get(f) is None]
        if missing:
            errors.add(where, f"missing {', '.join(missing)}")
            return None
    out = _normalized(raw, where, errors)
    if seed and out.get("status", "active") not in ("active", "cancelled"):
        errors.add(f"{where}.status", "expected active or cancelled")
    return out


def _normalized(raw: dict[str, Any] | None, where: str, errors: _Errors) -> dict[str, Any] | None:
    """Slot and field values in the runtime's normal form (dates ISO, times HH:MM, counts int)."""
    if raw is None:
        return None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "date" and value is not None:
            d = _date(value, f"{where}.date", errors)
            out[key] = d.isoformat() if d else value
        elif key == "time" and value is not None:
            t = _time(value, f"{where}.time", errors)
            out[key] = t.strftime("%H:%M") if t else value
        elif key == "party_size" and value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
                errors.add(f"{where}.party_size", f"expected a whole number, got {value!r}")
            out[key] = int(value) if isinstance(value, int | float) else value
        elif key == "phone" and value is not None:
            if not _is_phone(value):
                errors.add(f"{where}.phone", f'expected the digits in quotes ("010..."), got {value!r}')
            out[key] = str(value)
        else:
            out[key] = value
    return out


def _date(value: Any, where: str, errors: _Errors) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.add(where, f"expected a date YYYY-MM-DD, got {value!r}")
        return None


def _time(value: Any, where: str, errors: _Errors) -> dt.time | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return dt.time(value // 60, value % 60)  # YAML 1.1 reads an unquoted 18:30 as 1110 (base 60)
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        errors.add(where, f"expected a time HH:MM, got {value!r}")
        return None


def _is_phone(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit() and 9 <= len(value) <= 11


def _unknown(raw: dict[str, Any], known: Iterable[str], where: str, errors: _Errors) -> None:
    known = tuple(known)
    for key in raw:
        if key not in known:
            errors.add(where, f"unknown key {key!r} (known: {', '.join(known)})")
