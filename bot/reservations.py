"""Reservations made over the phone, kept in SQLite by default (any SQLAlchemy URL, e.g. PostgreSQL).

`ReservationStore` is safe to share between the threads that run calls: SQLite connections are not
tied to one thread and writes are serialized by a lock (SQLite allows one writer at a time anyway).
Several replicas share one PostgreSQL database (`bot.database_url`): the table is created, or given
the columns it lacks, when a replica starts (`callbot.database.ensure_schema`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from callbot.database import DatabaseError, create_engine, ensure_schema, safe_url

logger = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///var/callbot.db"
ACTIVE = "active"
CANCELLED = "cancelled"
_CHANGEABLE = ("store", "date", "time", "party_size", "name", "phone", "seating")

_metadata = sa.MetaData()
_table = sa.Table(
    "reservations",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("store", sa.String(100), nullable=True),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("time", sa.Time, nullable=False),
    sa.Column("party_size", sa.Integer, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False, index=True),
    sa.Column("seating", sa.String(200), nullable=True),
    sa.Column("status", sa.String(20), nullable=False, default=ACTIVE),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)


class ReservationError(Exception):
    """The reservation database cannot be opened or a reservation does not exist."""


@dataclass(frozen=True)
class Reservation:
    id: int
    store: str | None
    date: dt.date
    time: dt.time
    party_size: int
    name: str
    phone: str
    seating: str | None
    status: str
    created_at: dt.datetime

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class ReservationStore:
    """Create, find, change and cancel reservations; the table is created if missing."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        try:
            self._engine = create_engine(url)
            ensure_schema(self._engine, _metadata, "reservations")
        except DatabaseError as exc:
            raise ReservationError(f"invalid reservation database URL {url!r}: {exc}") from exc
        except SQLAlchemyError as exc:
            raise ReservationError(f"cannot open reservation database {safe_url(url)}: {exc}") from exc
        self._lock = threading.Lock()
        self.url = safe_url(url)

    def make(
        self,
        *,
        date: dt.date,
        time: dt.time,
        party_size: int,
        name: str,
        phone: str,
        store: str | None = None,
        seating: str | None = None,
    ) -> Reservation:
        """Store a new active reservation and return it with its number (`id`)."""
        if party_size < 1:
            raise ReservationError(f"party size must be at least 1, got {party_size}")
        row = {
            "store": store,
            "date": date,
            "time": time,
            "party_size": party_size,
            "name": name,
            "phone": phone,
            "seating": seating,
            "status": ACTIVE,
            "created_at": _now(),
        }
        with self._lock, self._engine.begin() as conn:
            new_id = conn.execute(_table.insert().values(**row)).inserted_primary_key[0]
        logger.info("bot.reservation.made id=%s store=%s date=%s", new_id, store, date)
        return self._get_or_fail(new_id)

    def get(self, reservation_id: int) -> Reservation | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_table).where(_table.c.id == reservation_id)).mappings().first()
        return _from_row(row) if row else None

    def find_by_phone(self, phone: str) -> Reservation | None:
        """The most recently made active reservation for `phone`, or None."""
        query = (
            sa.select(_table)
            .where(_table.c.phone == phone, _table.c.status == ACTIVE)
            .order_by(_table.c.created_at.desc(), _table.c.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _from_row(row) if row else None

    def change(self, reservation_id: int, **changes: Any) -> Reservation:
        """Update some of store, date, time, party_size, name, phone, seating of an active reservation."""
        unknown = set(changes) - set(_CHANGEABLE)
        if unknown:
            raise ReservationError(f"cannot change {', '.join(sorted(unknown))} of a reservation")
        current = self._get_or_fail(reservation_id)
        if not current.active:
            raise ReservationError(f"reservation {reservation_id} is {current.status}, not active")
        if changes:
            with self._lock, self._engine.begin() as conn:
                conn.execute(
                    _table.update().where(_table.c.id == reservation_id).values(**changes, updated_at=_now())
                )
            logger.info("bot.reservation.changed id=%s fields=%s", reservation_id, ",".join(sorted(changes)))
        return self._get_or_fail(reservation_id)

    def cancel(self, reservation_id: int) -> Reservation:
        """Mark a reservation cancelled (kept for the record)."""
        self._get_or_fail(reservation_id)
        with self._lock, self._engine.begin() as conn:
            conn.execute(
                _table.update()
                .where(_table.c.id == reservation_id)
                .values(status=CANCELLED, updated_at=_now())
            )
        logger.info("bot.reservation.cancelled id=%s", reservation_id)
        return self._get_or_fail(reservation_id)

    def close(self) -> None:
        self._engine.dispose()

    def _get_or_fail(self, reservation_id: int) -> Reservation:
        found = self.get(reservation_id)
        if found is None:
            raise ReservationError(f"no reservation with number {reservation_id}")
        return found


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _from_row(row: Any) -> Reservation:
    return Reservation(**{name: row[name] for name in Reservation.__dataclass_fields__})
