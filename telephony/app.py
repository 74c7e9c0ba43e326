"""HTTP and websocket routes (Starlette): the voice webhook, the reconnect (<Connect action>) webhook,
the status callback, the media stream, admin, and the operations endpoints (/healthz, /readyz, /metrics).

Why Starlette + uvicorn with `ws="wsproto"`: Rasa 3.6 pins websockets 10.4, which uvicorn 0.54's default
websockets implementation cannot use, and `uvicorn[standard]` would pull websockets 17 and break Rasa's
import. uvicorn serves Starlette websockets through wsproto (pure Python) with no version conflict.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from twilio.request_validator import RequestValidator

from bot.model_store import ModelStoreError
from telephony import CallLogError, twiml
from telephony.call_state import CallProgress
from telephony.metrics import CONTENT_TYPE
from telephony.reload import reload_models
from telephony.services import CallServices
from telephony.stream import handle_stream

logger = logging.getLogger(__name__)
_FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def create_app(
    services: CallServices,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
) -> Starlette:
    """The ASGI app for one set of services."""

    async def voice(request: Request) -> Response:
        params = await _verified_form(request, services)
        if params is None:
            return Response("invalid Twilio signature", status_code=403)
        call_sid = params.get("CallSid", "")
        if not call_sid:
            return Response("CallSid missing", status_code=400)
        log = services.calllog
        version = str(getattr(services.bot, "version", ""))
        await log.submit(
            log.start_call,
            call_sid,
            params.get("AccountSid", ""),
            params.get("From", ""),
            params.get("To", ""),
            version,
        )
        base = _public_base(request, services)
        token = services.tokens.issue(call_sid)
        body = twiml.connect_stream(
            twiml.stream_url_for(base), token, services.settings.greeting, action=twiml.resume_url_for(base)
        )
        logger.info("telephony.voice.answered call=%s", call_sid)
        return Response(body, media_type="application/xml")

    async def resume(request: Request) -> Response:
        """Twilio's request to the <Connect action> URL: the call's stream ended without the call ending
        (the replica died, or a drain handed the call over). Any replica answers: a new stream that picks
        the call up, or <Hangup/> for a call that is over."""
        params = await _verified_form(request, services)
        if params is None:
            return Response("invalid Twilio signature", status_code=403)
        call_sid = params.get("CallSid", "")
        if not call_sid:
            return Response("CallSid missing", status_code=400)
        progress, known = await services.calls.find(call_sid)
        if (progress is not None and progress.ended) or params.get("CallStatus") in _FINAL_STATUSES:
            logger.info("telephony.resume.hangup call=%s", call_sid)
            return Response(twiml.hangup(), media_type="application/xml")
        base = _public_base(request, services)
        # Nothing saved and Redis said so: the caller never heard a greeting, so the call starts over.
        resumed = progress is not None or not known
        body = twiml.connect_stream(
            twiml.stream_url_for(base),
            services.tokens.issue(call_sid),
            action=twiml.resume_url_for(base),
            resume=resumed,
        )
        logger.info("telephony.resume.answered call=%s resumed=%s", call_sid, resumed)
        return Response(body, media_type="application/xml")

    async def status(request: Request) -> Response:
        params = await _verified_form(request, services)
        if params is None:
            return Response("invalid Twilio signature", status_code=403)
        call_sid, call_status = params.get("CallSid", ""), params.get("CallStatus", "")
        if call_sid and call_status in _FINAL_STATUSES:
            await services.calllog.submit(
                services.calllog.end_call, call_sid, call_status, f"twilio: {call_status}"
            )
            progress = await services.calls.load(call_sid) or CallProgress(call_sid)
            await services.calls.save(replace(progress, ended=True, reason=f"twilio: {call_status}"))
            logger.info("telephony.status.closed call=%s status=%s", call_sid, call_status)
        return Response(status_code=204)

    async def stream(ws: WebSocket) -> None:
        await handle_stream(ws, services)

    async def reload(request: Request) -> Response:
        if (denied := _admin_denied(request, services)) is not None:
            return denied
        # A promotion names the version: a replica without it fetches it from the model store.
        body = await request.body()
        try:
            wanted = json.loads(body).get("version") if body.strip() else None
        except (ValueError, AttributeError):
            return JSONResponse({"error": 'expected JSON {"version": "..."} or no body'}, status_code=400)
        try:
            version = await reload_models(services, str(wanted) if wanted else None)
        except Exception as exc:  # noqa: BLE001 - the old version serves on; the caller learns why
            serving = str(getattr(services.bot, "version", ""))
            logger.error("telephony.admin.reload_failed version=%s serving=%s error=%s", wanted, serving, exc)
            missing = isinstance(exc, ModelStoreError)  # not fetched: nothing changed (409)
            error = str(exc) if missing else f"version {wanted or 'models/current'} did not load: {exc}"
            return JSONResponse({"error": error, "version": serving}, status_code=409 if missing else 500)
        logger.info("telephony.admin.reloaded version=%s live_calls=%d", version, len(services.live_calls))
        return JSONResponse({"version": version, "live_calls": len(services.live_calls)})

    async def call_detail(request: Request) -> Response:
        if (denied := _admin_denied(request, services)) is not None:
            return denied
        try:
            call = await services.calllog.submit(services.calllog.get_call, request.path_params["sid"])
        except CallLogError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except SQLAlchemyError as exc:
            return JSONResponse({"error": f"call log database unavailable: {exc}"}, status_code=503)
        return JSONResponse(call)

    async def health(request: Request) -> Response:
        """Alive: the process answers (restart it when this fails)."""
        version = str(getattr(services.bot, "version", ""))
        return JSONResponse(
            {
                "status": "ok",
                "version": version,
                "live_calls": len(services.live_calls),
                "replica": services.replica,
                "draining": services.draining,
            }
        )

    async def ready(request: Request) -> Response:
        """Ready for new calls: models loaded, not draining, Redis and the databases answering.

        `?degraded=ok` also accepts a replica whose shared services are down (it serves calls
        in-process and buffers call logs): the load balancer's fallback when no replica is fully ready.
        """
        version = str(getattr(services.bot, "version", ""))
        checks = {"models": "ok" if version else "not loaded"}
        checks.update(await services.readiness.report())
        for name, result in checks.items():
            if name != "models":
                services.metrics.dependency_up.labels(dependency=name).set(1.0 if result == "ok" else 0.0)
        if services.calllog.write_error:
            checks["calllog_writes"] = f"buffered: {services.calllog.write_error}"
        dependencies_ok = all(v == "ok" for k, v in checks.items() if k != "models")
        usable = bool(version) and not services.draining
        ready = usable and dependencies_ok
        accept = ready or (usable and request.query_params.get("degraded") == "ok")
        body = {
            "ready": ready,
            "replica": services.replica,
            "version": version,
            "draining": services.draining,
            "live_calls": len(services.live_calls),
            "calllog_pending_writes": services.calllog.pending_writes,
            "checks": checks,
        }
        return JSONResponse(body, status_code=200 if accept else 503)

    async def metrics(request: Request) -> Response:
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    routes = [
        Route("/twilio/voice", voice, methods=["POST"]),
        Route("/twilio/resume", resume, methods=["POST"]),
        Route("/twilio/status", status, methods=["POST"]),
        WebSocketRoute("/twilio/stream", stream),
        Route("/admin/reload", reload, methods=["POST"]),
        Route("/admin/calls/{sid}", call_detail, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if services.console_app is not None:
        routes.append(Mount("/console", app=services.console_app))
    return Starlette(routes=routes, lifespan=lifespan)


async def _verified_form(request: Request, services: CallServices) -> dict[str, str] | None:
    """The POSTed form if its X-Twilio-Signature is valid (or checks are off); None otherwise."""
    params = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True))
    if services.insecure_dev:
        return params
    if not services.auth_token:
        logger.error("telephony.webhook.refused reason=TWILIO_AUTH_TOKEN not set")
        return None
    url = _public_base(request, services) + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature", "")
    if not RequestValidator(services.auth_token).validate(url, params, signature):
        logger.warning("telephony.webhook.bad_signature url=%s", url)
        return None
    return params


def _public_base(request: Request, services: CallServices) -> str:
    """The URL Twilio used: `telephony.public_url`, else the request's (proxy headers honoured)."""
    if services.settings.public_url:
        return services.settings.public_url
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme)
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host}"


def _admin_denied(request: Request, services: CallServices) -> Response | None:
    if not services.admin_token:
        return JSONResponse({"error": "admin API disabled: CALLBOT_ADMIN_TOKEN not set"}, status_code=403)
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {services.admin_token}".encode()):
        return JSONResponse({"error": "bad or missing bearer token"}, status_code=401)
    return None
