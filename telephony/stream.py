"""The Media Streams websocket loop: parse each message, authenticate the stream, feed the CallSession.

A malformed message, media before `start`, a second `start` or a bad token ends that call (the
websocket is closed with a policy/protocol code); the call record is kept and other calls carry on.

A stream that drops without `stop` (and without the bot having ended the call) does not end the call:
Twilio requests the <Connect action> URL, and this replica or another resumes the call from its saved
state (`CallSession.suspend` here, `_start` with `resume` there). A draining replica hands new streams
straight back the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from stt import SttCapacityError
from telephony import ProtocolError, TokenError, protocol
from telephony.call_state import CallProgress
from telephony.services import CallServices, RecognitionStreamLike
from telephony.session import CallSession
from telephony.twiml import resume_url_for, stream_url_for

logger = logging.getLogger(__name__)
START_TIMEOUT = 10.0  # seconds a socket may stay open without an authenticated `start`
CLOSE_POLICY = 1008  # bad or missing token
CLOSE_PROTOCOL = 1002  # malformed message, media before start, second start
CLOSE_NORMAL = 1000
CLOSE_ERROR = 1011
MOVING = ("disconnected", "handover", "draining")  # stream ends after which the call goes on elsewhere


async def handle_stream(ws: WebSocket, services: CallServices) -> None:
    """Serve one Twilio media stream until `stop`, a disconnect, or an error in this call."""
    await ws.accept()
    lock = asyncio.Lock()
    session: CallSession | None = None
    reason = "disconnected"
    code = CLOSE_NORMAL

    async def send(text: str) -> None:
        async with lock:
            if ws.application_state == WebSocketState.CONNECTED:
                try:
                    await ws.send_text(text)
                except (WebSocketDisconnect, RuntimeError, OSError):
                    pass  # the caller is gone; the receive loop sees the disconnect and ends the call

    async def close(code: int = CLOSE_NORMAL) -> None:
        async with lock:
            if ws.application_state == WebSocketState.CONNECTED:
                try:
                    await ws.close(code)
                except (WebSocketDisconnect, RuntimeError, OSError):
                    pass

    try:
        while True:
            timeout = START_TIMEOUT if session is None else None
            try:
                message = await asyncio.wait_for(ws.receive(), timeout)
            except TimeoutError:
                reason, code = "no start", CLOSE_POLICY
                break
            if message["type"] == "websocket.disconnect":
                break
            try:
                event = protocol.parse_message(
                    message.get("text") if message.get("text") is not None else message.get("bytes") or b"",
                    services.settings.max_frame_bytes,
                )
                if isinstance(event, protocol.Start):
                    if session is not None:
                        raise ProtocolError("second 'start' on one stream")
                    if services.draining:  # Twilio asks the <Connect action>: a ready replica takes it
                        logger.info("telephony.stream.handed_back call=%s (draining)", event.call_sid)
                        reason = "draining"
                        await _redeem(event, services)
                        break
                    session = await _start(event, services, send, close, _public_urls(ws, services))
                elif isinstance(event, protocol.Stop):
                    reason = "stop"
                    break
                elif isinstance(event, protocol.Media | protocol.DtmfPressed | protocol.MarkPlayed):
                    if session is None:
                        raise ProtocolError(f"'{type(event).__name__}' before 'start'")
                    _dispatch(session, event)
            except TokenError as exc:
                logger.warning("telephony.stream.refused error=%s", exc)
                reason, code = f"token: {exc}", CLOSE_POLICY
                break
            except ProtocolError as exc:
                call = session.call_sid if session else "-"
                logger.warning("telephony.stream.protocol_error call=%s error=%s", call, exc)
                reason, code = f"protocol error: {exc}", CLOSE_PROTOCOL
                break
    except Exception:  # noqa: BLE001 - one broken stream must not take the server down
        logger.exception("telephony.stream.failed call=%s", session.call_sid if session else "-")
        reason, code = "server error", CLOSE_ERROR
    finally:  # the call record is closed before the socket, so a client that sees the close sees the log
        if session is not None and session.awaiting_reconnect and code == CLOSE_NORMAL:
            asyncio.ensure_future(_expire(session, services))  # Twilio is speaking a <Say>; it comes back
        elif session is not None:
            reason = "handover" if session.handing_over else reason
            await _end(session, services, reason, code)
        if code != CLOSE_NORMAL:
            services.metrics.errors.labels(kind=_error_kind(reason)).inc()
        await close(code)
        logger.info("telephony.stream.closed call=%s reason=%s", session.call_sid if session else "-", reason)


async def _end(session: CallSession, services: CallServices, reason: str, code: int) -> None:
    """The stream is over: the call goes on elsewhere (dropped or handed over), or it ended."""
    if services.live_calls.get(session.call_sid) is session:
        # Before the record is closed: whoever sees the call ended sees no live call left for it.
        del services.live_calls[session.call_sid]
    if reason in MOVING and code == CLOSE_NORMAL and not session.ended_by_bot:
        await session.suspend(reason)
        services.metrics.calls.labels(outcome="moved").inc()
    else:
        await session.finish(reason)
        services.metrics.calls.labels(outcome="ended").inc()


async def _redeem(event: protocol.Start, services: CallServices) -> None:
    """The stream's one-time token, accepted once across every replica (`TokenError` otherwise)."""
    token = event.custom_parameters.get("token")
    await services.tokens.redeem(token, event.call_sid, services.calls.claim_nonce)


async def _start(
    event: protocol.Start,
    services: CallServices,
    send: Callable[[str], Awaitable[None]],
    close: Callable[[], Awaitable[None]],
    urls: tuple[str, str],
) -> CallSession:
    """Authenticate the stream, then start a call, resume one that moved here, or re-attach one after
    a <Say> update."""
    await _redeem(event, services)
    waiting = services.live_calls.get(event.call_sid)
    if waiting is not None and waiting.awaiting_reconnect:
        waiting.attach(event.stream_sid, send, close)
        logger.info("telephony.stream.reattached call=%s stream=%s", event.call_sid, event.stream_sid)
        return waiting
    resumed: CallProgress | None = None
    dialogue = None
    if event.custom_parameters.get("resume") == "1":
        resumed = await services.calls.load(event.call_sid) or CallProgress(event.call_sid)
        if resumed.ended:
            raise TokenError(f"call {event.call_sid} already ended")
        dialogue = await services.bot.resume_session(event.call_sid)
        logger.info(
            "telephony.stream.resumed call=%s stream=%s turn=%d state=%s",
            event.call_sid,
            event.stream_sid,
            resumed.turn,
            "restored" if dialogue is not None else "lost",
        )
    recognition: RecognitionStreamLike | None
    try:
        loop = asyncio.get_running_loop()
        recognition = await loop.run_in_executor(
            services.stt_executor, services.recognizer.stream, protocol.PHONE_RATE
        )
    except SttCapacityError as exc:
        logger.warning("telephony.stream.stt_busy call=%s error=%s", event.call_sid, exc)
        recognition = None
    session = CallSession(services, event.call_sid, event.stream_sid, send, close)
    session.stream_url, session.resume_url = urls
    services.live_calls[event.call_sid] = session
    services.metrics.calls.labels(outcome="resumed" if resumed else "started").inc()
    logger.info("telephony.stream.started call=%s stream=%s", event.call_sid, event.stream_sid)
    await session.begin(recognition, resumed, dialogue)
    return session


def _dispatch(session: CallSession, event: protocol.InboundEvent) -> None:
    if isinstance(event, protocol.Media):
        if event.track in ("inbound", "inbound_track"):
            session.on_media(event)
    elif isinstance(event, protocol.DtmfPressed):
        session.on_dtmf(event.digit)
    elif isinstance(event, protocol.MarkPlayed):
        session.on_mark(event.name)


async def _expire(session: CallSession, services: CallServices, grace: float = 30.0) -> None:
    """End a session whose call never reconnected after a <Say> update."""
    attachments = session.attachments
    await asyncio.sleep(session.play_seconds + grace)
    if session.awaiting_reconnect and session.attachments == attachments:
        if services.live_calls.get(session.call_sid) is session:
            del services.live_calls[session.call_sid]
        await session.finish("no reconnect after <Say>")


def _public_urls(ws: WebSocket, services: CallServices) -> tuple[str, str]:
    """This stream's public URL (reconnecting after a <Say> update) and the <Connect action> URL."""
    if services.settings.public_url:
        base = services.settings.public_url
        return stream_url_for(base), resume_url_for(base)
    secure = ws.headers.get("x-forwarded-proto", ws.url.scheme) in ("https", "wss")
    host = ws.headers.get("x-forwarded-host") or ws.headers.get("host") or ws.url.netloc
    return (
        f"{'wss' if secure else 'ws'}://{host}/twilio/stream",
        f"{'https' if secure else 'http'}://{host}/twilio/resume",
    )


def _error_kind(reason: str) -> str:
    for prefix, kind in (("token", "token"), ("protocol", "protocol"), ("no start", "protocol")):
        if reason.startswith(prefix):
            return kind
    return "stream"
