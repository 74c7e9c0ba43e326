"""Users, passwords, sessions and CSRF tokens of the console.

Passwords: `hashlib.scrypt` (n=2**14, r=8, p=1, 16-byte salt), stored as `scrypt$n$r$p$salt$hash`.
Sessions: a cookie holding the user name, a CSRF token and an expiry, signed with HMAC-SHA256 over the
key from `console.store.cookie_secret`; the role is read from the database on every request, so a
removed user or a changed role takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from console import ConsoleError
from console.store import audit, users_table

ROLES = ("annotator", "admin")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires: float


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${hash}".format(**_SCRYPT, salt=salt.hex(), hash=digest.hex())


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
            maxmem=64 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def add_user(engine: sa.engine.Engine, name: str, password: str, role: str, by: str = "cli") -> User:
    """Create a user (or give an existing one a new password and role)."""
    problems = []
    if not _NAME.match(name):
        problems.append(f"user name {name!r}: 1-64 letters, digits or _.@-")
    if role not in ROLES:
        problems.append(f"role {role!r}: must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        problems.append(f"password: at least {MIN_PASSWORD} characters")
    if problems:
        raise ConsoleError("; ".join(problems))
    values = {"password": hash_password(password), "role": role}
    try:
        with engine.begin() as db:
            db.execute(users_table.insert().values(name=name, created_at=time.time(), **values))
        what = "user.added"
    except IntegrityError:
        with engine.begin() as db:
            db.execute(users_table.update().where(users_table.c.name == name).values(**values))
        what = "user.changed"
    audit(engine, by, what, f"{name} role={role}")
    return User(name, role)


def get_user(engine: sa.engine.Engine, name: str) -> User | None:
    with engine.connect() as db:
        row = db.execute(sa.select(users_table.c.role).where(users_table.c.name == name)).first()
    return User(name, row[0]) if row is not None else None


def authenticate(engine: sa.engine.Engine, name: str, password: str) -> User | None:
    with engine.connect() as db:
        row = db.execute(
            sa.select(users_table.c.password, users_table.c.role).where(users_table.c.name == name)
        ).first()
    if row is None:
        hash_password(password)  # the same work as a wrong password: no user-name oracle by timing
        return None
    return User(name, row[1]) if check_password(password, row[0]) else None


def list_users(engine: sa.engine.Engine) -> list[User]:
    with engine.connect() as db:
        rows = db.execute(sa.select(users_table.c.name, users_table.c.role).order_by(users_table.c.name))
        return [User(n, r) for n, r in rows]


class SessionSigner:
    """Signs and reads the session cookie."""

    def __init__(self, key: bytes, max_age_seconds: float) -> None:
        self._key = key
        self.max_age = max_age_seconds

    def issue(self, user: str) -> tuple[str, Session]:
        session = Session(user, secrets.token_urlsafe(24), time.time() + self.max_age)
        body = base64.urlsafe_b64encode(
            json.dumps({"u": session.user, "c": session.csrf, "e": session.expires}).encode()
        ).decode()
        return f"{body}.{self._sign(body)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        body, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
            session = Session(str(data["u"]), str(data["c"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
