"""ReservationStore CRUD on a temporary SQLite file."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from bot.reservations import ReservationError, ReservationStore


@pytest.fixture
def store(tmp_path: Path) -> ReservationStore:
    s = ReservationStore(f"sqlite:///{tmp_path / 'sub' / 'callbot.db'}")
    yield s
    s.close()


def _make(db: ReservationStore, phone: str = "01012345678", **kw) -> object:
    args = dict(date=dt.date(2026, 12, 24), time=dt.time(19, 0), party_size=4, name="김철수", phone=phone)
    args.update(kw)
    return db.make(**args)


def test_make_creates_file_and_returns_numbered_reservation(tmp_path: Path, store: ReservationStore) -> None:
    r = _make(store, store="강남점", seating="창가")
    assert (tmp_path / "sub" / "callbot.db").exists()
    assert r.id >= 1 and r.active
    assert (r.store, r.date, r.time, r.party_size, r.name, r.seating) == (
        "강남점", dt.date(2026, 12, 24), dt.time(19, 0), 4, "김철수", "창가",
    )  # fmt: skip


def test_reservations_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = ReservationStore(url)
    made = _make(first)
    first.close()
    again = ReservationStore(url)
    assert again.find_by_phone("01012345678") == made


def test_find_by_phone_returns_latest_active(store: ReservationStore) -> None:
    older = _make(store, party_size=2)
    newer = _make(store, party_size=3)
    _make(store, phone="01099998888")
    assert store.find_by_phone("01012345678").id == newer.id
    store.cancel(newer.id)
    assert store.find_by_phone("01012345678").id == older.id
    store.cancel(older.id)
    assert store.find_by_phone("01012345678") is None
    assert store.find_by_phone("0100000000") is None


def test_change_updates_fields(store: ReservationStore) -> None:
    r = _make(store)
    changed = store.change(r.id, time=dt.time(18, 30), party_size=6)
    assert (changed.time, changed.party_size, changed.date) == (dt.time(18, 30), 6, r.date)
    assert store.get(r.id) == changed


def test_change_rejects_unknown_field_and_cancelled(store: ReservationStore) -> None:
    r = _make(store)
    with pytest.raises(ReservationError, match="status"):
        store.change(r.id, status="x")
    store.cancel(r.id)
    with pytest.raises(ReservationError, match="cancelled"):
        store.change(r.id, party_size=2)
    with pytest.raises(ReservationError, match="no reservation with number 999"):
        store.cancel(999)


def test_cancel_keeps_record(store: ReservationStore) -> None:
    r = _make(store)
    cancelled = store.cancel(r.id)
    assert cancelled.status == "cancelled" and not cancelled.active
    assert store.get(r.id).status == "cancelled"


def test_invalid_party_size_and_url(tmp_path: Path) -> None:
    with pytest.raises(ReservationError, match="invalid reservation database URL"):
        ReservationStore("not a url")
    s = ReservationStore("sqlite://")
    with pytest.raises(ReservationError, match="at least 1"):
        _make(s, party_size=0)


def test_concurrent_makes_from_threads(store: ReservationStore) -> None:
    errors: list[Exception] = []

    def work(i: int) -> None:
        try:
            for j in range(5):
                _make(store, phone=f"0101000{i:02d}{j:02d}")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = {store.find_by_phone(f"0101000{i:02d}{j:02d}").id for i in range(8) for j in range(5)}
    assert len(ids) == 40
