"""The console's routes (Starlette): login, the review inbox, a call, the caller's audio, labelling,
near duplicates, labels (CSV, conflicts) and users. Every route but the login page needs a session;
every POST needs the session's CSRF token; admin pages need the admin role.

`create_console_app` returns an app meant to be mounted at `/console` (by `callbot serve`, or by
`callbot console` alone); links are made from the mount's root_path.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console import ConsoleError
from console.auth import ROLES, SessionSigner, User, add_user, authenticate, get_user, list_users
from console.drift_page import DriftCache, default_builder, drift_routes
from console.inbox import (
    OUTCOMES,
    RiskRules,
    call_turns,
    inbox_page,
    known_stores,
    parse_filter,
    save_filter,
    saved_filters,
    turn_by_id,
)
from console.jobs import Jobs
from console.labels import IntentCatalog, conflicts, current_labels, export_csv, record_label, similar_turns
from console.model_routes import model_routes
from console.models import AgentCache, Reload
from console.settings import ConsoleSettings
from console.store import audit, cookie_secret, open_engine

logger = logging.getLogger(__name__)
COOKIE = "callbot_console"
HERE = Path(__file__).parent
Handler = Callable[[Request, User, dict[str, str]], Awaitable[Response]]


@dataclass
class ConsoleServices:
    """What the console's requests share: the database, the cookie signer, the intents, the rules."""

    settings: ConsoleSettings
    engine: sa.engine.Engine
    signer: SessionSigner
    rules: RiskRules
    jobs: Jobs = None  # type: ignore[assignment]  # default: jobs in this database (__post_init__)
    agents: AgentCache = field(default_factory=AgentCache)  # loaded models, shared by comparisons
    # Reloads the replicas after a promotion; `callbot serve` reloads its own process when no
    # console.replicas are listed. Default: a rolling reload of console.replicas (telephony.rollout).
    reload: Reload | None = None
    admin_token: str | None = None  # CALLBOT_ADMIN_TOKEN: the replicas' /admin/reload
    drift: DriftCache | None = None  # the drift page's report, kept a few minutes (default: models/current)
    model_store: Any = None  # bot.model_store.ModelStore (models.store): promotion publishes there first
    _catalog: IntentCatalog | None = None
    _catalog_mtime: float = -1.0

    @classmethod
    def open(
        cls, settings: ConsoleSettings, secret: str | None = None, admin_token: str | None = None
    ) -> ConsoleServices:
        """Open the call-log database (creating the console's tables); `secret`: CALLBOT_CONSOLE_SECRET."""
        engine = open_engine(settings.database_url)
        signer = SessionSigner(cookie_secret(engine, secret), settings.session_hours * 3600)
        rules = RiskRules(low_confidence=settings.low_confidence, router_unsure=settings.router_unsure)
        from bot.model_store import ModelStoreError, store_from_value

        try:
            model_store = store_from_value(settings.model_store)
        except ModelStoreError as exc:
            engine.dispose()
            raise ConsoleError(str(exc)) from exc
        return cls(settings, engine, signer, rules, admin_token=admin_token, model_store=model_store)

    def __post_init__(self) -> None:
        if self.jobs is None:
            self.jobs = Jobs(self.engine, lost_after=self.settings.job_lost_seconds)
        if self.drift is None:
            self.drift = DriftCache(default_builder(self.settings.config_path))

    async def reload_replicas(self) -> list[dict[str, Any]]:
        """After `models/current` changed: the injected reload, else a rolling reload of console.replicas."""
        if self.reload is not None:
            return await self.reload()
        if not self.settings.replicas:
            return []  # replicas with telephony.reload_watch_seconds pick the pointer up themselves
        if not self.admin_token:
            raise ConsoleError("console.replicas are listed but CALLBOT_ADMIN_TOKEN is not set")
        from bot.models import read_current_version
        from telephony.rollout import rolling_reload

        # Named, so that a replica whose models folder lacks it fetches it from the model store.
        version = read_current_version(self.settings.models_dir)
        return await rolling_reload(self.settings.replicas, self.admin_token, version=version)

    @property
    def catalog(self) -> IntentCatalog:
        """The intents of the last data build (read again when build/examples.csv changes)."""
        path = self.settings.build_dir / "examples.csv"
        mtime = path.stat().st_mtime if path.exists() else 0.0
        if self._catalog is None or mtime != self._catalog_mtime:
            self._catalog, self._catalog_mtime = IntentCatalog.from_build(self.settings.build_dir), mtime
        return self._catalog

    def close(self) -> None:
        self.jobs.close()
        self.engine.dispose()
        if self.model_store is not None:
            self.model_store.close()


def create_console_app(services: ConsoleServices) -> Starlette:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        enable_async=False,
    )
    env.filters["when"] = lambda ts: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:.2f}"

    def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A page, or (a template named `_...`) the part of one htmx swaps in; a part clears the page's
        error message unless `clear_flash=False` (a poll must not wipe what a click reported)."""
        base = request.scope.get("root_path", "")
        values.setdefault("csrf", getattr(request.state, "csrf", ""))
        part = name.startswith("_")
        clear = values.pop("clear_flash", True)
        if not part:
            values.setdefault("drift_banner", services.drift.banner())  # the kept report only: no work
        text = env.get_template(name).render(base=base, request=request, **values)
        if part and clear:
            text += '\n<div id="flash" hx-swap-oob="true"></div>'
        return HTMLResponse(text, status_code=status)

    def guarded(handler: Handler, role: str | None = None) -> Callable[[Request], Awaitable[Response]]:
        """Login, role and (for POST) CSRF checks in front of a handler."""

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            response = await checked(request)
            if (
                is_htmx(request)
                and isinstance(response, JSONResponse)
                and response.status_code not in (200, 401)
            ):
                response = _flash_from_json(response)
            # The server's own time for the request (read by benchmarks/console_inbox.py and browsers' tools).
            response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            return response

        async def checked(request: Request) -> Response:
            session = services.signer.read(request.cookies.get(COOKIE))
            user = await _in_thread(get_user, services.engine, session.user) if session else None
            if session is None or user is None:
                if is_htmx(request):  # a part of a page asked for: the whole page goes to the login
                    base = request.scope.get("root_path", "")
                    page = urlsplit(request.headers.get("hx-current-url", ""))
                    target = page.path + (f"?{page.query}" if page.query else "") or f"{base}/"
                    return JSONResponse(
                        {"error": "log in first"},
                        status_code=401,
                        headers={"HX-Redirect": f"{base}/login?{urlencode({'next': target})}"},
                    )
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    base = request.scope.get("root_path", "")
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"{base}/login?{urlencode({'next': target})}", status_code=303)
                return JSONResponse({"error": "log in first"}, status_code=401)
            if role is not None and user.role != role:
                return JSONResponse({"error": f"needs the {role} role"}, status_code=403)
            form: dict[str, str] = {}
            if request.method == "POST":
                form = await _form(request)
                given = request.headers.get("x-csrf-token") or form.get("csrf", "")
                if not given or given != session.csrf:
                    return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
            request.state.csrf = session.csrf
            try:
                return await handler(request, user, form)
            except ConsoleError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except SQLAlchemyError as exc:
                logger.error("console.database.error path=%s error=%s", request.url.path, exc)
                return JSONResponse({"error": f"call log database unavailable: {exc}"}, status_code=503)

        return endpoint

    async def login_page(request: Request) -> Response:
        return render(request, "login.html", next=request.query_params.get("next", ""), error="")

    async def login(request: Request) -> Response:
        form = await _form(request)
        name, password = form.get("name", ""), form.get("password", "")
        user = await _in_thread(authenticate, services.engine, name, password)
        base = request.scope.get("root_path", "")
        if user is None:
            logger.info("console.login.failed user=%s", name)
            return render(
                request, "login.html", status=401, next=form.get("next", ""), error="wrong name or password"
            )
        cookie, _ = services.signer.issue(user.name)
        target = form.get("next", "")
        if not target.startswith(base + "/") or target.startswith("//"):
            target = base + "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(services.signer.max_age),
            path=base or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        )
        logger.info("console.login.ok user=%s", user.name)
        return response

    async def logout(request: Request, user: User, form: dict[str, str]) -> Response:
        base = request.scope.get("root_path", "")
        response = RedirectResponse(f"{base}/login", status_code=303)
        response.delete_cookie(COOKIE, path=base or "/")
        return response

    async def inbox(request: Request, user: User, form: dict[str, str]) -> Response:
        part = is_htmx(request)  # another filter or page: only #inbox is rendered
        try:
            flt = parse_filter(dict(request.query_params))
        except ConsoleError as exc:
            if part:
                return flash(str(exc), 400)
            return render(request, "error.html", status=400, user=user, message=str(exc))
        page = await _in_thread(inbox_page, services.engine, flt, services.rules, services.settings.page_size)
        values: dict[str, Any] = dict(
            user=user,
            saved=await _in_thread(saved_filters, services.engine, user.name),
            query=urlencode(flt.query(page=1)),
            page=page,
            flt=flt,
            outcomes=OUTCOMES,
            urlencode=urlencode,
            csrf=request.state.csrf,
        )
        if part:
            response = render(request, "_inbox.html", **values)
            # the address bar shows the filter as a link to keep, not the form's empty fields
            response.headers["HX-Push-Url"] = (
                f"{request.scope.get('root_path', '')}/?{urlencode(flt.query())}"
            )
            return response
        return render(
            request,
            "inbox.html",
            **values,
            intents=services.catalog.intents,
            intents_json=_intents_json(services.catalog),
            stores=await _in_thread(known_stores, services.engine),
        )

    async def filters_save(request: Request, user: User, form: dict[str, str]) -> Response:
        query = form.get("query", "")
        await _in_thread(save_filter, services.engine, user.name, form.get("name", ""), query)
        return RedirectResponse(f"{request.scope.get('root_path', '')}/?{query}", status_code=303)

    async def call(request: Request, user: User, form: dict[str, str]) -> Response:
        sid = request.path_params["sid"]
        try:
            turns = await _in_thread(call_turns, services.engine, sid, services.rules)
        except ConsoleError as exc:
            return render(request, "error.html", status=404, user=user, message=str(exc))
        return render(
            request,
            "call.html",
            user=user,
            sid=sid,
            turns=turns,
            intents_json=_intents_json(services.catalog),
            csrf=request.state.csrf,
        )

    async def audio(request: Request, user: User, form: dict[str, str]) -> Response:
        turn = await _in_thread(turn_by_id, services.engine, int(request.path_params["turn_id"]))
        path = _audio_file(turn.get("audio_path"), services.settings.state_dir)
        if path is None:
            return JSONResponse({"error": f"no saved audio for turn {turn['id']}"}, status_code=404)
        if turn.get("pii"):
            # The transcript was masked before it was logged; the voice was not. Only an admin hears it,
            # asking for it explicitly, and that is recorded.
            if not user.admin or request.query_params.get("unmask") != "1":
                return JSONResponse(
                    {
                        "error": f"turn {turn['id']} holds personal data ({turn['pii']}): an admin can unmask it"
                    },
                    status_code=403,
                )
            await _in_thread(
                audit,
                services.engine,
                user.name,
                "unmask.audio",
                f"turn={turn['id']} call={turn['call_sid']}",
            )
            logger.info("console.unmask.audio user=%s turn=%s", user.name, turn["id"])
        return FileResponse(path, media_type="audio/wav")

    async def label(request: Request, user: User, form: dict[str, str]) -> Response:
        ids = [
            int(x) for x in form.get("turn_ids", form.get("turn_id", "")).split(",") if x.strip().isdigit()
        ]
        if not ids:
            raise ConsoleError("turn_id: which turn to label is missing")
        intent = form.get("intent", "")
        if not intent:
            raise ConsoleError("intent: missing")
        text = form.get("text") or None
        stored = await _in_thread(
            record_label,
            services.engine,
            services.catalog,
            ids,
            intent,
            form.get("action", "pick"),
            user.name,
            text,
        )
        logger.info(
            "console.label.stored user=%s turns=%s intent=%s", user.name, ",".join(map(str, ids)), intent
        )
        return JSONResponse({"labels": stored})

    async def similar(request: Request, user: User, form: dict[str, str]) -> Response:
        found = await _in_thread(similar_turns, services.engine, int(request.path_params["turn_id"]))
        return JSONResponse({"count": len(found), "turns": found})

    async def labels_page(request: Request, user: User, form: dict[str, str]) -> Response:
        labels = await _in_thread(current_labels, services.engine)
        clashes = await _in_thread(conflicts, services.engine, services.settings.build_dir)
        return render(
            request,
            "labels.html",
            user=user,
            labels=labels[-500:][::-1],
            total=len(labels),
            conflicts=clashes,
            csrf=request.state.csrf,
        )

    async def labels_csv(request: Request, user: User, form: dict[str, str]) -> Response:
        body = await _in_thread(export_csv, services.engine)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="operator_labels.csv"'},
        )

    async def users_page(request: Request, user: User, form: dict[str, str]) -> Response:
        users = await _in_thread(list_users, services.engine)
        return render(
            request, "users.html", user=user, users=users, roles=ROLES, csrf=request.state.csrf, error=""
        )

    async def users_add(request: Request, user: User, form: dict[str, str]) -> Response:
        await _in_thread(
            add_user,
            services.engine,
            form.get("name", ""),
            form.get("password", ""),
            form.get("role", ""),
            user.name,
        )
        return RedirectResponse(request.scope.get("root_path", "") + "/users", status_code=303)

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", guarded(logout), methods=["POST"]),
        Route("/", guarded(inbox), methods=["GET"]),
        Route("/filters", guarded(filters_save), methods=["POST"]),
        Route("/calls/{sid}", guarded(call), methods=["GET"]),
        Route("/audio/{turn_id:int}.wav", guarded(audio), methods=["GET"]),
        Route("/label", guarded(label), methods=["POST"]),
        Route("/similar/{turn_id:int}", guarded(similar), methods=["GET"]),
        Route("/labels", guarded(labels_page), methods=["GET"]),
        Route("/labels.csv", guarded(labels_csv), methods=["GET"]),
        Route("/users", guarded(users_page, role="admin"), methods=["GET"]),
        Route("/users", guarded(users_add, role="admin"), methods=["POST"]),
        *model_routes(services, render, guarded),
        *drift_routes(services.drift, render, guarded),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


def standalone_app(services: ConsoleServices) -> Starlette:
    """`callbot console`: the console at /console, and / sends there."""

    async def home(request: Request) -> Response:
        return RedirectResponse("/console/", status_code=307)

    return Starlette(routes=[Route("/", home), Mount("/console", app=create_console_app(services))])


def is_htmx(request: Request) -> bool:
    """htmx asks for a part of a page (a history restore wants the whole page)."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


def flash(message: str, status: int, details: Iterable[str] = ()) -> HTMLResponse:
    """An error for htmx: an HTML message put into the page's #flash (the address stays); the status
    stays the error's."""
    items = "".join(f"<li>{html.escape(d)}</li>" for d in details)
    body = f'<p class="error" role="alert">{html.escape(message)}</p>' + (
        f"<ul>{items}</ul>" if items else ""
    )
    return HTMLResponse(
        body,
        status_code=status,
        headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", "HX-Push-Url": "false"},
    )


def _flash_from_json(response: JSONResponse) -> Response:
    """A JSON error answer (`{"error": ..., "failures": [...]}`) as `flash` for an htmx request."""
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return response
    if not isinstance(body, dict) or "error" not in body:
        return response
    details = [str(d) for d in body.get("failures") or []]
    return flash(str(body["error"]), response.status_code, details)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded POST body (what the console's forms and its script send)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


def _audio_file(stored: str | None, state_dir: Path) -> Path | None:
    """The saved WAV of a turn, only when it lies under <state_dir>/calls/ (the call log names it)."""
    if not stored:
        return None
    root = (state_dir / "calls").resolve()
    path = Path(stored).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def _intents_json(catalog: IntentCatalog) -> str:
    return json.dumps(
        [{"name": i.name, "domain": i.domain, "examples": list(i.examples)} for i in catalog.intents],
        ensure_ascii=False,
    ).replace("</", "<\\/")
