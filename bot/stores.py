"""The store table of a sample company: finding a store named in a sentence and spoken answers about it.

`stores.csv` columns: store_id,name,aliases,address,station,exit,directions,phone,hours_weekday,
hours_weekend,break_time,last_order,holiday_policy,parking,kids,delivery_area (aliases separated by "|"),
and optionally max_party (the largest party one reservation may seat) and closed (days the store is
shut, "|"-separated: ISO dates with an optional name, "2027-02-07 설날", or weekday names, "월요일").
Answers are polite spoken Korean: clock times like "11:00-22:00" are read as "오전 11시부터 저녁 10시까지".
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.ko_datetime import speak_time
from data.augment.asr_errors import is_syllable, split_syllable
from data.errors import DataError

logger = logging.getLogger(__name__)

COLUMNS = (
    "store_id", "name", "aliases", "address", "station", "exit", "directions", "phone", "hours_weekday",
    "hours_weekend", "break_time", "last_order", "holiday_policy", "parking", "kids", "delivery_area",
)  # fmt: skip
OPTIONAL_COLUMNS = ("max_party", "closed", "landmarks")


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    aliases: tuple[str, ...]
    address: str
    station: str
    exit: str
    directions: str
    phone: str
    hours_weekday: str
    hours_weekend: str
    break_time: str
    last_order: str
    holiday_policy: str
    parking: str
    kids: str
    delivery_area: str
    max_party: int | None = None
    closed: tuple[str, ...] = ()
    landmarks: tuple[str, ...] = ()  # places near the store a caller may name instead of it ("보신각")


class StoreDirectory:
    """All stores of the company, searchable by name or alias as said on the phone."""

    def __init__(self, stores: list[Store]) -> None:
        self.stores = list(stores)
        keys: list[tuple[str, Store]] = []
        for store in self.stores:
            for word in (store.name, *store.aliases):
                for key in {_squash(word), _squash(_strip_branch(word))}:
                    if len(key) >= 2:
                        keys.append((key, store))
        # Longest first so "강남역점" is preferred over "강남" when both are keys.
        self._keys = sorted(keys, key=lambda kv: -len(kv[0]))
        # Keys the near match may take loosely, as jamo: long enough, and all Hangul syllables.
        self._near_keys = [
            ([split_syllable(ch) for ch in key], store)
            for key, store in self._keys
            if len(key) >= NEAR_MATCH_MIN_SYLLABLES and all(is_syllable(ch) for ch in key)
        ]
        self._landmarks: list[tuple[str, Store]] | None = None  # built on first use (Kiwi)

    @classmethod
    def from_csv(cls, path: str | Path) -> StoreDirectory:
        """Read `stores.csv`; raises DataError naming the file and any missing column or bad row."""
        p = Path(path)
        try:
            with p.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataError(
                        f"{p}: missing column(s) {', '.join(missing)} (expected: {', '.join(COLUMNS)})"
                    )
                stores = [_store_from_row(p, i, row) for i, row in enumerate(reader, start=2)]
        except FileNotFoundError as exc:
            raise DataError(f"store table not found: {p}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"{p}: not UTF-8 text ({exc})") from exc
        if not stores:
            raise DataError(f"{p}: no stores (the table has a header but no rows)")
        logger.info("bot.stores.loaded path=%s stores=%d", p, len(stores))
        return cls(stores)

    def find_in_text(self, text: str | None) -> Store | None:
        """The store named in `text` ("명동점 주차 돼?", "강남 매장 몇 시까지"), exactly or else one jamo off
        (`find_near`), or None."""
        return self.find_exact(text) or self.find_near(text)

    def find_exact(self, text: str | None) -> Store | None:
        """The store whose name or alias appears in `text` as written (spaces and punctuation aside)."""
        squashed = _squash(text or "")
        return next((store for key, store in self._keys if key in squashed), None) if squashed else None

    def find_near(self, text: str | None) -> Store | None:
        """A name the recognizer got one letter wrong ("강남전", "홍대입꾸"): keys of three
        syllables or more, one jamo (initial, vowel or final) differing, and only one store that close.
        Two-syllable keys are never matched loosely: "잠시" is not "잠실", "종료" is not "종로"."""
        squashed = _squash(text or "")
        found = {
            store.store_id: store for parts, store in self._near_keys if _within_one_jamo(parts, squashed)
        }
        return next(iter(found.values())) if len(found) == 1 else None

    def find_landmark(self, text: str | None) -> Store | None:
        """The store near a place the caller names ("보신각 근처 지점", "테헤란로 매장"): the store table's
        `landmarks`, and the proper nouns of its address, station and directions, each of one store only."""
        squashed = _squash(text or "")
        if not squashed:
            return None
        if self._landmarks is None:
            self._landmarks = _landmarks(self.stores)
        found = {store.store_id: store for key, store in self._landmarks if key in squashed}
        return next(iter(found.values())) if len(found) == 1 else None

    def by_name(self, name: str | None) -> Store | None:
        """The store whose name (or alias) is exactly `name`, e.g. a slot value."""
        if not name:
            return None
        key = _squash(_strip_branch(name))
        return next((s for k, s in self._keys if k == key or k == _squash(name)), None)

    def names(self) -> list[str]:
        return [s.name for s in self.stores]

    def which_store_question(self, limit: int = 6) -> str:
        """ "어느 매장을 말씀하시는 건가요? 종로점, 강남점 중에서 말씀해 주세요." """
        names = self.names()
        if len(names) <= limit:
            return f"어느 매장을 말씀하시는 건가요? {', '.join(names)} 중에서 말씀해 주세요."
        return f"어느 매장을 말씀하시는 건가요? {', '.join(names[:limit])} 같은 매장 이름으로 말씀해 주세요."


def _store_from_row(path: Path, row_no: int, row: dict[str, str | None]) -> Store:
    values = {c: (row.get(c) or "").strip() for c in COLUMNS}
    if not values["name"]:
        raise DataError(f"{path}: row {row_no}, column 'name': empty store name")
    aliases = tuple(a.strip() for a in values.pop("aliases").split("|") if a.strip())
    raw_party = (row.get("max_party") or "").strip()
    if raw_party and not (raw_party.isdigit() and int(raw_party) > 0):
        raise DataError(
            f"{path}: row {row_no}, column 'max_party': expected a whole number, got {raw_party!r}"
        )
    closed = tuple(c.strip() for c in (row.get("closed") or "").split("|") if c.strip())
    landmarks = tuple(m.strip() for m in (row.get("landmarks") or "").split("|") if m.strip())
    for day in closed:
        if not _valid_closed_day(day):
            raise DataError(
                f"{path}: row {row_no}, column 'closed': {day!r} is neither a date (2027-02-07 설날) "
                "nor a weekday (월요일)"
            )
    party = int(raw_party) if raw_party else None
    return Store(aliases=aliases, max_party=party, closed=closed, landmarks=landmarks, **values)


_WEEKDAY_NAMES = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")


def _valid_closed_day(day: str) -> bool:
    if day in _WEEKDAY_NAMES:
        return True
    try:
        dt.date.fromisoformat(day.split()[0])
    except ValueError:
        return False
    return True


NEAR_MATCH_MIN_SYLLABLES = 3


def _landmarks(stores: list[Store]) -> list[tuple[str, Store]]:
    """(place, store) for each store's `landmarks` and the proper nouns (two syllables or more) of its
    address, station and directions, where no other store has the same: the places a caller may name
    instead of the store."""
    from bot.nlu.kiwi_tokenizer import get_analyzer

    analyzer = get_analyzer()
    words: dict[str, set[str]] = {}
    for store in stores:
        text = " ".join((store.address, store.station, store.directions))
        nouns = [m.form for m in analyzer.morphemes(text) if m.tag == "NNP"]
        for word in (*nouns, *(_squash(m) for m in store.landmarks)):
            if len(word) >= 2 and all(is_syllable(c) for c in word):
                words.setdefault(word, set()).add(store.store_id)
    by_id = {s.store_id: s for s in stores}
    unique = [(w, by_id[next(iter(ids))]) for w, ids in words.items() if len(ids) == 1]
    return sorted(unique, key=lambda kv: (-len(kv[0]), kv[0]))


def _within_one_jamo(parts: list[tuple[int, int, int]], text: str) -> bool:
    """Whether some stretch of `text` as long as the key (its syllables' jamo `parts`) differs from it in
    at most one jamo."""
    for start in range(len(text) - len(parts) + 1):
        differ = 0
        for offset, want in enumerate(parts):
            ch = text[start + offset]
            differ += (
                sum(a != b for a, b in zip(want, split_syllable(ch), strict=True)) if is_syllable(ch) else 2
            )
            if differ > 1:
                break
        if differ <= 1:
            return True
    return False


def _squash(text: str) -> str:
    return re.sub(r"[\s.,?!~]+", "", text)


def _strip_branch(name: str) -> str:
    return re.sub(r"\s*(점|지점|매장)$", "", name.strip())


# ---------------------------------------------------------------------------------------------
# Spoken answers


def _topic(word: str) -> str:
    """`word` with the topic particle 은/는 that fits its last syllable."""
    code = ord(word[-1]) - 0xAC00 if word else -1
    return word + ("은" if 0 <= code < 11172 and code % 28 else "는")


_RANGE_RE = re.compile(r"(\d{1,2}):(\d{2})\s*[-~–]\s*(\d{1,2}):(\d{2})")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")


def _clock(hour: str, minute: str) -> str:
    h, m = int(hour), int(minute)
    return speak_time(dt.time(h % 24, m)) if h <= 24 and m < 60 else f"{hour}:{minute}"


def speak_times(text: str) -> str:
    """Clock times in `text` as spoken Korean: "15:00-17:00" -> "오후 3시부터 오후 5시까지"."""
    text = _RANGE_RE.sub(lambda m: f"{_clock(m[1], m[2])}부터 {_clock(m[3], m[4])}까지", text)
    return _CLOCK_RE.sub(lambda m: _clock(m[1], m[2]), text)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".?!" else text + "."


def _unknown(store: Store, what: str) -> str:
    call = f" 매장 전화 {store.phone}번으로 문의해 주세요." if store.phone else ""
    return f"죄송합니다. {store.name} {what} 정보는 아직 준비되어 있지 않습니다.{call}"


def location_answer(store: Store) -> str:
    """Address, nearest station and exit, and directions."""
    if not store.address and not store.station:
        return _unknown(store, "위치")
    parts = [f"{_topic(store.name)} {store.address}에 있습니다." if store.address else ""]
    if store.station:
        exit_words = (
            f" {store.exit}번 출구" if store.exit.isdigit() else (f" {store.exit}" if store.exit else "")
        )
        parts.append(f"{store.station}{exit_words}에서 가까워요.")
    if store.directions:
        parts.append(_sentence(store.directions))
    return " ".join(p for p in parts if p)


def hours_answer(store: Store) -> str:
    """Weekday and weekend hours, break time and last order."""
    if not store.hours_weekday and not store.hours_weekend:
        return _unknown(store, "영업시간")
    parts = []
    if store.hours_weekday:
        parts.append(f"{_topic(store.name)} 평일 {speak_times(store.hours_weekday)} 영업합니다.")
    if store.hours_weekend:
        lead = "주말에는" if store.hours_weekday else f"{_topic(store.name)} 주말에"
        parts.append(f"{lead} {speak_times(store.hours_weekend)} 영업합니다.")
    if store.break_time and store.break_time not in ("없음", "-"):
        parts.append(f"브레이크 타임은 {speak_times(store.break_time)}입니다.")
    if store.last_order:
        parts.append(f"마지막 주문은 {speak_times(store.last_order)}까지 받습니다.")
    return " ".join(parts)


def holiday_answer(store: Store) -> str:
    if not store.holiday_policy:
        return _unknown(store, "휴일 영업")
    return f"{store.name} 휴일 영업 안내입니다. {_sentence(speak_times(store.holiday_policy))}"


def parking_answer(store: Store) -> str:
    if not store.parking:
        return _unknown(store, "주차")
    return f"{store.name} 주차 안내입니다. {_sentence(speak_times(store.parking))}"


def family_answer(store: Store) -> str:
    if not store.kids:
        return _unknown(store, "아이 동반 편의시설")
    return f"{store.name} 아이 동반 안내입니다. {_sentence(store.kids)}"


def delivery_answer(store: Store) -> str:
    if not store.delivery_area:
        return _unknown(store, "배달 지역")
    area = store.delivery_area.strip()
    if area[-1] in ".?!" or area.endswith("다"):
        return f"{store.name} 배달 지역 안내입니다. {_sentence(area)}"
    return f"{store.name} 배달 가능 지역은 {area}입니다."


def phone_answer(store: Store) -> str:
    if not store.phone:
        return _unknown(store, "전화번호")
    return f"{store.name} 전화번호는 {store.phone}입니다."


# Intent -> answer. A store_* intent not listed here (new in the sheet) still gets location and hours.
ANSWERS: dict[str, Callable[[Store], str]] = {
    "store_location": location_answer,
    "store_hours": hours_answer,
    "store_holiday_hours": holiday_answer,
    "store_parking": parking_answer,
    "store_family": family_answer,
    "store_delivery_area": delivery_answer,
    "store_phone": phone_answer,
}


def answer(intent: str, store: Store) -> str:
    """The spoken answer to a store intent; unknown intents get the hours and the location."""
    fn = ANSWERS.get(intent)
    if fn is not None:
        return fn(store)
    return f"{location_answer(store)} {hours_answer(store)}"
