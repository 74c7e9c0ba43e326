"""A call's progress and its stream tokens in the machine's Redis, shared by replicas."""

from __future__ import annotations

import asyncio

import pytest

from callbot.state import RedisLink, StateSettings
from telephony import TokenError
from telephony.call_state import CallProgress, CallStates
from telephony.tokens import StreamTokens, secret_from


def _replicas(url: str, prefix: str) -> tuple[CallStates, CallStates]:
    settings = StateSettings(redis_url=url, key_prefix=prefix)
    return CallStates(RedisLink(settings), "a:8080"), CallStates(RedisLink(settings), "b:8080")


def test_a_token_issued_by_one_replica_is_accepted_once_by_any(redis_state) -> None:  # noqa: ANN001
    a, b = _replicas(*redis_state)
    secret = secret_from("the-twilio-auth-token")
    assert secret is not None and secret == secret_from("the-twilio-auth-token")
    issuer, first, second = StreamTokens(60, secret), StreamTokens(60, secret), StreamTokens(60, secret)

    async def main() -> None:
        token = issuer.issue("CAtok")
        await first.redeem(token, "CAtok", b.claim_nonce)  # the webhook was answered by a, the stream is b's
        with pytest.raises(TokenError, match="already used"):
            await second.redeem(token, "CAtok", a.claim_nonce)
        with pytest.raises(TokenError, match="another call"):
            await second.redeem(issuer.issue("CAtok"), "CAother", a.claim_nonce)

    asyncio.run(main())
    for s in (a, b):
        s.close()
        s.link.close()


def test_progress_is_shared_and_a_secret_agreed_once(redis_state) -> None:  # noqa: ANN001
    a, b = _replicas(*redis_state)

    async def main() -> None:
        assert await a.find("CAp") == (None, True)  # known: nothing saved
        assert await a.save(CallProgress("CAp", turn=3, prompt="몇 분이 오시나요?"))
        seen = await b.load("CAp")
        assert seen is not None and (seen.turn, seen.prompt, seen.replica) == (
            3,
            "몇 분이 오시나요?",
            "a:8080",
        )
        one, two = await a.shared_secret(b"\x01" * 32), await b.shared_secret(b"\x02" * 32)
        assert one == two == b"\x01" * 32

    asyncio.run(main())
    for s in (a, b):
        s.close()
        s.link.close()


def test_while_redis_is_down_progress_and_tokens_stay_on_the_replica(private_redis) -> None:  # noqa: ANN001
    link = RedisLink(StateSettings(redis_url=private_redis.url, timeout_seconds=0.3, retry_seconds=5))
    states = CallStates(link, "a:8080")

    async def main() -> None:
        private_redis.stop()
        assert not await states.save(CallProgress("CAdown", turn=2))
        progress, known = await states.find("CAdown")  # the copy kept in-process
        assert not known and progress is not None and progress.turn == 2
        assert await states.claim_nonce("n1", 2e9) and not await states.claim_nonce("n1", 2e9)

    asyncio.run(main())
    states.close()
    link.close()
