"""One-time stream tokens: the voice webhook issues one per call, the websocket accepts it once.

A token is `<expiry>.<nonce>.<hmac>` where the HMAC-SHA256 covers the CallSid, the expiry and the nonce,
so a token is useless for another call, after its expiry, or a second time. Tokens only have to live
from the webhook to the stream connecting, seconds later. With several replicas the webhook and the
stream may reach different ones: every replica then signs with the same secret (derived from
TWILIO_AUTH_TOKEN, else agreed through Redis) and `redeem` marks a nonce used in Redis (SET NX with
expiry, `telephony.call_state.CallStates.claim_nonce`), so a token is single-use across replicas.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable

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
        """Accept `token` for `call_sid` once (in this process); `TokenError` saying why otherwise."""
        expiry, nonce = self.verify(token, call_sid)
        self._prune(self._clock())
        if nonce in self._used:
            raise TokenError(f"stream token already used (call={call_sid})")
        self._used[nonce] = expiry

    async def redeem(
        self, token: str | None, call_sid: str, claim: Callable[[str, float], Awaitable[bool]]
    ) -> None:
        """Accept `token` for `call_sid` once across replicas: `claim(nonce, expiry)` is True only for
        the first use (see `CallStates.claim_nonce`)."""
        expiry, nonce = self.verify(token, call_sid)
        if not await claim(nonce, expiry):
            raise TokenError(f"stream token already used (call={call_sid})")

    def verify(self, token: str | None, call_sid: str) -> tuple[int, str]:
        """(expiry, nonce) of a genuine, unexpired token for `call_sid`; `TokenError` otherwise."""
        if not token:
            raise TokenError("stream token missing")
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            raise TokenError("stream token malformed")
        expiry, nonce, signature = int(parts[0]), parts[1], parts[2]
        if not hmac.compare_digest(signature, self._sign(call_sid, expiry, nonce)):
            raise TokenError(f"stream token forged or issued for another call (call={call_sid})")
        if self._clock() > expiry:
            raise TokenError(f"stream token expired (call={call_sid})")
        return expiry, nonce

    def use_secret(self, secret: bytes) -> None:
        """Sign with `secret` from now on (the cluster's shared one)."""
        self._secret = secret

    def _sign(self, call_sid: str, expiry: int, nonce: str) -> str:
        message = f"{call_sid}|{expiry}|{nonce}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _prune(self, now: float) -> None:
        for nonce in [n for n, exp in self._used.items() if exp < now]:
            del self._used[nonce]


def secret_from(auth_token: str | None) -> bytes | None:
    """A token-signing key every replica derives alike from TWILIO_AUTH_TOKEN (None without one)."""
    if not auth_token:
        return None
    return hmac.new(auth_token.encode(), b"callbot stream tokens v1", hashlib.sha256).digest()
