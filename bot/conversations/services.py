"""What a conversation test gives the sample's actions instead of the live services: a fresh
reservation store per conversation (seeded from the file) that remembers what the conversation did,
and a clock set to the file's day."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from bot.reservations import Reservation, ReservationStore

SEOUL = ZoneInfo("Asia/Seoul")


class ConversationClock:
    """A settable clock in Asia/Seoul; `None` follows the real time."""

    def __init__(self) -> None:
        self.now: dt.datetime | None = None

    def set(self, now: dt.datetime | None) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        if self.now is None:
            return dt.datetime.now(SEOUL)
        return self.now.replace(tzinfo=SEOUL)


class ConversationReservations:
    """The reservation store the actions see: a new in-memory database for every conversation.

    It has the methods of `ReservationStore` the actions call and records which reservations the
    conversation made, changed or cancelled, so outcome checks look only at this conversation's work.
    """

    def __init__(self) -> None:
        self._store = ReservationStore("sqlite://")
        self.made: list[int] = []
        self.changed: list[int] = []
        self.cancelled: list[int] = []

    def reset(self, rows: tuple[dict[str, Any], ...] | list[dict[str, Any]] = ()) -> None:
        """A fresh, empty store holding only `rows` (normalized spec rows: ISO date, HH:MM time)."""
        self._store.close()
        self._store = ReservationStore("sqlite://")
        self.made, self.changed, self.cancelled = [], [], []
        for row in rows:
            made = self._store.make(
                store=row.get("store"),
                date=dt.date.fromisoformat(row["date"]),
                time=dt.time.fromisoformat(row["time"]),
                party_size=int(row["party_size"]),
                name=str(row["name"]),
                phone=str(row["phone"]),
                seating=row.get("seating"),
            )
            if row.get("status") == "cancelled":
                self._store.cancel(made.id)

    # -- the ReservationStore interface -------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._store.url

    def make(self, **fields: Any) -> Reservation:
        made = self._store.make(**fields)
        self.made.append(made.id)
        return made

    def get(self, reservation_id: int) -> Reservation | None:
        return self._store.get(reservation_id)

    def find_by_phone(self, phone: str) -> Reservation | None:
        return self._store.find_by_phone(phone)

    def change(self, reservation_id: int, **changes: Any) -> Reservation:
        changed = self._store.change(reservation_id, **changes)
        self.changed.append(reservation_id)
        return changed

    def cancel(self, reservation_id: int) -> Reservation:
        cancelled = self._store.cancel(reservation_id)
        self.cancelled.append(reservation_id)
        return cancelled

    def close(self) -> None:
        self._store.close()

    # -- what this conversation did -------------------------------------------------------------------

    def touched(self) -> list[Reservation]:
        """Reservations made or changed in this conversation, as they are now."""
        ids = dict.fromkeys([*self.made, *self.changed])
        return [r for r in (self._store.get(i) for i in ids) if r is not None]

    def cancelled_now(self) -> list[Reservation]:
        return [r for r in (self._store.get(i) for i in dict.fromkeys(self.cancelled)) if r is not None]
