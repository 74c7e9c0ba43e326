"""One-time stream tokens: the voice webhook issues one per call, the websocket accepts it once.

A token is `<expiry>.<nonce>.<hmac>` where the HMAC-SHA256 covers the CallSid, the expiry and the nonce,
so a token is useless for another call, after its expiry, or a second time. The secret is random per
server process: tokens only have to live from the webhook to the stream connecting, seconds later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from telephony import TokenError


class StreamTokens:
    """Issues and consumes tokens. Holds the used nonces until their expiry (state of one server)."""

    def __init__(
        self, ttl_seconds: float, secret: bytes | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl = ttl_seconds
        self._secret = secret or secrets.token_bytes(32)
        self._clock = clock
        self._used: dict[str, float] = {}

    def issue(self, call_sid: str) -> str:
        expiry = int(self._clock() + self.ttl)
        nonce = secrets.token_urlsafe(12)
        return f"{expiry}.{nonce}.{self._sign(call_sid, expiry, nonce)}"

    def consume(self, token: str | None, call_sid: str) -> None:
        """Accept `token` for `call_sid` once; `TokenError` saying why otherwise."""
        if not token:
            raise TokenError("stream token missing")
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            raise TokenError("stream token malformed")
        expiry, nonce, signature = int(parts[0]), parts[1], parts[2]
        if not hmac.compare_digest(signature, self._sign(call_sid, expiry, nonce)):
            raise TokenError(f"stream token forged or issued for another call (call={call_sid})")
        now = self._clock()
        if now > expiry:
            raise TokenError(f"stream token expired (call={call_sid})")
        self._prune(now)
        if nonce in self._used:
            raise TokenError(f"stream token already used (call={call_sid})")
        self._used[nonce] = expiry

    def _sign(self, call_sid: str, expiry: int, nonce: str) -> str:
        message = f"{call_sid}|{expiry}|{nonce}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _prune(self, now: float) -> None:
        for nonce in [n for n, exp in self._used.items() if exp < now]:
            del self._used[nonce]
