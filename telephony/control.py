"""Call control through the Twilio REST API: hand off to an agent, hang up, speak with <Say>.

The `twilio.rest.Client` takes an injectable `http_client`, so tests capture the request and nothing
touches the network. REST calls block, so they run in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.rest import Client

from telephony import TelephonyError, twiml

logger = logging.getLogger(__name__)


class CallControl:
    """Updates live calls. Without credentials every action fails with a clear `TelephonyError`."""

    def __init__(
        self, account_sid: str | None, auth_token: str | None, http_client: HttpClient | None = None
    ) -> None:
        self._client = (
            Client(account_sid, auth_token, http_client=http_client) if account_sid and auth_token else None
        )

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def handoff(self, call_sid: str, agent_number: str) -> None:
        """Replace the call's TwiML with <Dial>agent</Dial>."""
        await self._update(call_sid, twiml=twiml.dial(agent_number))

    async def hangup(self, call_sid: str) -> None:
        await self._update(call_sid, status="completed")

    async def say_and_hangup(self, call_sid: str, text: str, voice: str | None = None) -> None:
        await self._update(call_sid, twiml=twiml.say_and_hangup(text, voice))

    async def say_then_stream(
        self, call_sid: str, text: str, voice: str | None, stream_url: str, token: str, action: str = ""
    ) -> None:
        await self._update(call_sid, twiml=twiml.say_then_stream(text, voice, stream_url, token, action))

    async def _update(self, call_sid: str, **kwargs: str) -> None:
        client = self._client
        if client is None:
            raise TelephonyError(
                f"cannot update call {call_sid}: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set"
            )
        try:
            await asyncio.to_thread(lambda: client.calls(call_sid).update(**kwargs))
        except TwilioException as exc:
            raise TelephonyError(f"Twilio REST update of call {call_sid} failed: {exc}") from exc
        logger.info("telephony.control.updated call=%s %s", call_sid, ",".join(kwargs))
