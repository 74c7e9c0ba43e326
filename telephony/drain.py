"""Draining a replica (SIGTERM): stop taking calls, let live calls finish, hand the rest over, exit.

At once `/readyz` fails (the load balancer stops sending calls here within its check interval) and
new streams are handed back to Twilio (the <Connect action> then reaches a ready replica). Live calls
may finish for `telephony.failover.drain_seconds`; each one still here after that is handed over
between turns: its stream is closed, Twilio requests the <Connect action> URL and another replica
resumes it from the state saved at its last turn. Then pending call-log writes get a few seconds to
reach the database (what does not stays in the spool file for the next process).
"""

from __future__ import annotations

import asyncio
import logging
import time

from telephony.services import CallServices

logger = logging.getLogger(__name__)
LB_NOTICE_SECONDS = 2.0  # at least this long before handing calls over: the balancer sees /readyz fail
STREAMS_CLOSE_SECONDS = 15.0


async def drain(services: CallServices) -> None:
    """Run the drain (see module doc); returns when no call is left on this replica."""
    services.draining = True
    services.metrics.draining.set(1)
    started = time.monotonic()
    deadline = started + max(services.settings.failover.drain_seconds, LB_NOTICE_SECONDS)
    logger.info("telephony.drain.started live_calls=%d", len(services.live_calls))
    while time.monotonic() < deadline and (
        services.live_calls or time.monotonic() - started < LB_NOTICE_SECONDS
    ):
        await asyncio.sleep(0.1)
    moving = list(services.live_calls.values())
    if moving:
        logger.info("telephony.drain.handing_over calls=%d", len(moving))
        await asyncio.gather(*(session.hand_over() for session in moving), return_exceptions=True)
    closing = time.monotonic() + STREAMS_CLOSE_SECONDS
    while services.live_calls and time.monotonic() < closing:
        await asyncio.sleep(0.05)
    logger.info(
        "telephony.drain.done moved=%d seconds=%.1f calllog_pending=%d",
        len(moving),
        time.monotonic() - started,
        services.calllog.pending_writes,
    )
