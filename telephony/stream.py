"""The Media Streams websocket loop: parse each message, authenticate the stream, feed the CallSession.

A malformed message, media before `start`, a second `start` or a bad token ends that call (the
websocket is closed with a policy/protocol code); the call record is kept and other calls carry on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from stt import SttCapacityError
from telephony import ProtocolError, TokenError, protocol
from telephony.services import CallServices, RecognitionStreamLike
from telephony.session import CallSession
from telephony.twiml import stream_url_for

logger = logging.getLogger(__name__)
START_TIMEOUT = 10.0  # seconds a socket may stay open without an authenticated `start`
CLOSE_POLICY = 1008  # bad or missing token
CLOSE_PROTOCOL = 1002  # malformed message, media before start, second start
CLOSE_NORMAL = 1000
CLOSE_ERROR = 1011


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
                    session = await _start(event, services, send, close, _stream_url(ws, services))
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
            await session.finish(reason)
            services.live_calls.pop(session.call_sid, None)
        await close(code)
        logger.info("telephony.stream.closed call=%s reason=%s", session.call_sid if session else "-", reason)


async def _start(
    event: protocol.Start,
    services: CallServices,
    send: Callable[[str], Awaitable[None]],
    close: Callable[[], Awaitable[None]],
    stream_url: str,
) -> CallSession:
    """Authenticate the stream, then start a call (or resume one after a <Say> update)."""
    services.tokens.consume(event.custom_parameters.get("token"), event.call_sid)
    resumed = services.live_calls.get(event.call_sid)
    if resumed is not None and resumed.awaiting_reconnect:
        resumed.attach(event.stream_sid, send, close)
        logger.info("telephony.stream.resumed call=%s stream=%s", event.call_sid, event.stream_sid)
        return resumed
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
    session.stream_url = stream_url
    services.live_calls[event.call_sid] = session
    logger.info("telephony.stream.started call=%s stream=%s", event.call_sid, event.stream_sid)
    await session.begin(recognition)
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
        await session.finish("no reconnect after <Say>")
        services.live_calls.pop(session.call_sid, None)


def _stream_url(ws: WebSocket, services: CallServices) -> str:
    """This stream's public URL, for reconnecting after a <Say> update."""
    if services.settings.public_url:
        return stream_url_for(services.settings.public_url)
    secure = ws.headers.get("x-forwarded-proto", ws.url.scheme) in ("https", "wss")
    host = ws.headers.get("x-forwarded-host") or ws.headers.get("host") or ws.url.netloc
    return f"{'wss' if secure else 'ws'}://{host}/twilio/stream"
