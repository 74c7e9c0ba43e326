"""The console's Models page (admins): train a candidate, compare it with production, promote it
behind the gate, roll back; and the jobs' progress (any replica's: `console.jobs`). Routes for
`console.app.create_console_app`; htmx posts and polls get the page's body (`_models.html`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from callbot.config import Config
from console import ConsoleError
from console.auth import User
from console.conversation_compare import compare_conversations
from console.jobs import Job, run_commands
from console.models import Comparison, compare, last_promotion, promote, rollback, versions

if TYPE_CHECKING:
    from console.app import ConsoleServices

logger = logging.getLogger(__name__)
Handler = Callable[[Request, User, dict[str, str]], Awaitable[Response]]


def model_routes(
    services: ConsoleServices,
    render: Callable[..., Response],
    guarded: Callable[..., Callable[[Request], Awaitable[Response]]],
) -> list[Route]:
    from console.app import _in_thread, is_htmx

    async def models_page(request: Request, user: User, form: dict[str, str]) -> Response:
        current, known = await _in_thread(versions, services.settings.models_dir)
        compare_job = await _in_thread(services.jobs.latest, "compare")
        comparison = _comparison(compare_job)
        verdict = _verdict(services, comparison)
        return render(
            request,
            "_models.html" if is_htmx(request) else "models.html",
            user=user,
            current=current,
            versions=known,
            train_job=await _in_thread(services.jobs.latest, "train"),
            compare_job=compare_job,
            comparison=comparison,
            verdict=verdict,
            max_drop=services.settings.gate_max_drop_points,
            conversation_max_drop=services.settings.gate_conversation_max_drop_points,
            last=await _in_thread(last_promotion, services.engine),
            csrf=request.state.csrf,
        )

    async def after_post(
        request: Request, user: User, query: dict[str, Any], body: dict[str, Any] | None = None
    ) -> Response:
        """htmx: the page's body as it is now; a form post: back to the page; a script: JSON."""
        if is_htmx(request):
            return await models_page(request, user, {})
        return _after_post(request, "/models", query, body)

    async def models_train(request: Request, user: User, form: dict[str, str]) -> Response:
        """Build the data (labels included) and train a candidate, in child processes."""
        cli = [sys.executable, "-c", "from callbot.cli.main import app; app()"]
        if services.settings.config_path is not None:
            cli += ["--config", str(services.settings.config_path)]
        commands = [cli + ["data", "build"], cli + ["train", "--candidate"]]
        job = await _in_thread(
            services.jobs.start, "train", user.name, lambda job: run_commands(job, commands)
        )
        logger.info("console.train.started user=%s job=%d", user.name, job.id)
        return await after_post(request, user, {"job": job.id})

    async def models_compare(request: Request, user: User, form: dict[str, str]) -> Response:
        current, known = await _in_thread(versions, services.settings.models_dir)
        candidate = form.get("candidate") or (known[0] if known else "")
        production = form.get("production") or current or ""
        if not candidate or not production:
            raise ConsoleError("no model versions to compare: train first")
        settings = services.settings
        extra = await _in_thread(_held_out, services)

        def work(job: Job) -> Comparison:
            result = compare(
                settings.models_dir,
                production,
                candidate,
                list(settings.eval_sets),
                settings.common_domain,
                services.agents,
                extra,
            )
            if not settings.conversations:
                return result
            job.lines.append(f"eval sets compared: {len(result.sets)}")
            suites = compare_conversations(
                _config(services),
                settings.models_dir,
                production,
                candidate,
                settings.conversations,
                job.lines.append,
            )
            return replace(result, conversations=suites)

        job = await _in_thread(services.jobs.start, "compare", user.name, work)
        return await after_post(request, user, {"job": job.id})

    async def models_promote(request: Request, user: User, form: dict[str, str]) -> Response:
        comparison = _comparison(await _in_thread(services.jobs.latest, "compare"))
        version = form.get("version", "")
        if comparison is None or comparison.candidate != version:
            return JSONResponse(
                {"error": f"compare {version or 'the candidate'} with production first"}, status_code=409
            )
        current, _ = await _in_thread(versions, services.settings.models_dir)
        if comparison.production != current:
            return JSONResponse(
                {"error": f"production changed to {current} since the comparison: compare again"},
                status_code=409,
            )
        failures = _verdict(services, comparison)
        if failures:
            return JSONResponse(
                {"error": "the gate blocks this promotion", "failures": failures}, status_code=409
            )
        reloaded = await promote(
            services.engine,
            services.settings.models_dir,
            version,
            user.name,
            services.reload_replicas,
            store=services.model_store,
        )
        logger.info("console.promoted user=%s version=%s replicas=%d", user.name, version, len(reloaded))
        return await after_post(
            request, user, {"promoted": version}, {"version": version, "replicas": reloaded}
        )

    async def models_rollback(request: Request, user: User, form: dict[str, str]) -> Response:
        reloaded = await rollback(
            services.engine,
            services.settings.models_dir,
            user.name,
            services.reload_replicas,
            store=services.model_store,
        )
        current, _ = await _in_thread(versions, services.settings.models_dir)
        logger.info("console.rolled_back user=%s version=%s", user.name, current)
        return await after_post(
            request, user, {"rolled_back": current}, {"version": current, "replicas": reloaded}
        )

    async def job_status(request: Request, user: User, form: dict[str, str]) -> Response:
        job = await _in_thread(services.jobs.get, int(request.path_params["job_id"]))
        if not is_htmx(request):
            body = job.to_dict()
            if job.state == "done" and job.result:  # the comparison, for scripts
                body["result"] = job.result.to_dict() if hasattr(job.result, "to_dict") else job.result
            return JSONResponse(body)
        if job.state == "running":  # the Models page's poll: the job's progress so far
            return render(request, "_job.html", job=job, clear_flash=False)
        # It ended: the Models page's body shows the outcome (a new version, the comparison).
        response = await models_page(request, user, form)
        response.headers.update({"HX-Retarget": "#models", "HX-Reswap": "outerHTML"})
        return response

    async def jobs_page(request: Request, user: User, form: dict[str, str]) -> Response:
        """Every replica's recent jobs; htmx asks for the list again while one runs."""
        jobs = await _in_thread(services.jobs.recent, 50)
        return render(
            request,
            "_jobs.html" if is_htmx(request) else "jobs.html",
            user=user,
            jobs=jobs,
            lost_after=services.jobs.lost_after,
            clear_flash=False,
        )

    return [
        Route("/models", guarded(models_page, role="admin"), methods=["GET"]),
        Route("/models/train", guarded(models_train, role="admin"), methods=["POST"]),
        Route("/models/compare", guarded(models_compare, role="admin"), methods=["POST"]),
        Route("/models/promote", guarded(models_promote, role="admin"), methods=["POST"]),
        Route("/models/rollback", guarded(models_rollback, role="admin"), methods=["POST"]),
        Route("/jobs", guarded(jobs_page, role="admin"), methods=["GET"]),
        Route("/jobs/{job_id:int}", guarded(job_status, role="admin"), methods=["GET"]),
    ]


def _held_out(services: ConsoleServices) -> dict[str, list[Any]]:
    """The operators' labels of the last `console.holdout_days` (kept out of `data build`) as an eval set."""
    import time

    from bot.evaluate import LabelledText
    from console.labels import current_labels

    days = services.settings.holdout_days
    if not days:
        return {}
    labels = current_labels(services.engine, since=time.time() - days * 86400)
    name = f"operator labels, last {days:g} days"
    return {name: [LabelledText(lb["text"], lb["intent"], lb["domain"], "real", name) for lb in labels]}


def _comparison(job: Job | None) -> Comparison | None:
    """The comparison a finished compare job left (in the database: whichever replica ran it)."""
    if job is None or job.state != "done" or not job.result:
        return None
    return Comparison.from_dict(job.result)


def _verdict(services: ConsoleServices, comparison: Comparison | None) -> list[str]:
    """The gate's reasons against the comparison's candidate (empty: promotion allowed)."""
    if comparison is None:
        return []
    settings = services.settings
    return comparison.gate(settings.gate_max_drop_points, settings.gate_conversation_max_drop_points)


def _config(services: ConsoleServices) -> Config:
    """The callbot.yml the console runs with (the bot's actions and settings for conversations)."""
    from callbot.config import load_config

    path = services.settings.config_path
    return load_config(path) if path is not None else Config(path=Path.cwd() / "callbot.yml")


def _after_post(
    request: Request, page: str, query: dict[str, Any], body: dict[str, Any] | None = None
) -> Response:
    """A form post goes back to the page; a script's request gets JSON."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(body or query)
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}{page}?{urlencode(query)}", status_code=303)
