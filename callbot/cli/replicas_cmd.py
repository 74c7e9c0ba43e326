"""`callbot replicas`: look at several `callbot serve` replicas and update their models one at a time."""

from __future__ import annotations

import asyncio
import os

import typer
from rich.table import Table

from callbot.cli.common import console, fail, print_json, user_errors

app = typer.Typer(
    help="Several `callbot serve` replicas: readiness, rolling model update.", no_args_is_help=True
)

URLS = typer.Argument(
    ..., help="Replica base URLs, e.g. http://10.0.0.11:8080 (each directly, not the balancer)."
)


@app.command("status")
def status(urls: list[str] = URLS, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each replica's /readyz: version, live calls, draining, Redis and database checks."""
    from telephony.rollout import status as get_status

    rows = asyncio.run(get_status(urls))
    if as_json:
        print_json(rows)
        return
    table = Table("replica", "ready", "version", "live calls", "draining", "checks")
    for r in rows:
        checks = ", ".join(f"{k}: {v}" for k, v in (r.get("checks") or {}).items()) or r.get("error", "")
        table.add_row(
            r["replica"],
            "yes" if r.get("ready") else "no",
            str(r.get("version", "")),
            str(r.get("live_calls", "")),
            "yes" if r.get("draining") else "",
            checks,
        )
    console.print(table)


@app.command("reload")
def reload(
    urls: list[str] = URLS,
    ready_timeout: float = typer.Option(900.0, "--ready-timeout", help="Seconds each replica may take."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    version: str = typer.Option(
        None, "--version", help="The version to serve; a replica lacking it fetches it from models.store."
    ),
) -> None:
    """Rolling model update: each replica loads `models/current` (or `--version`) in turn (hot reload:
    calls go on), the next one only after this one is ready again. Needs CALLBOT_ADMIN_TOKEN; without a
    model store (models.store) every replica must see the new version in its models folder first."""
    from telephony import TelephonyError
    from telephony.rollout import rolling_reload

    token = os.environ.get("CALLBOT_ADMIN_TOKEN")
    if not token:
        fail("CALLBOT_ADMIN_TOKEN is not set: the replicas' /admin/reload needs it.")

    def done(step: dict) -> None:
        if not as_json:
            console.print(
                f"{step['replica']}: version {step['version']}, {step['live_calls']} live calls, "
                f"ready after {step['seconds']} s"
            )

    with user_errors(TelephonyError):
        results = asyncio.run(
            rolling_reload(
                urls, token or "", ready_timeout=ready_timeout, on_done=done, version=version or None
            )
        )
    if as_json:
        print_json(results)
