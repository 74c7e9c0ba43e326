"""`callbot serve`: the Twilio voice webhook and Media Streams server."""

from __future__ import annotations

import asyncio
import dataclasses
import os

import typer

from callbot.cli.common import console, fail, get_config, user_errors


def serve(
    ctx: typer.Context,
    public_url: str = typer.Option(
        None, "--public-url", help="https://host Twilio reaches (your tunnel). Default: telephony.public_url."
    ),
    host: str = typer.Option(None, "--host", help="Bind address. Default: telephony.host."),
    port: int = typer.Option(None, "--port", help="Port. Default: telephony.port."),
    insecure_dev: bool = typer.Option(
        False,
        "--insecure-dev",
        help="Accept unsigned webhooks (local development only; never in production).",
    ),
) -> None:
    """Answer calls: voice webhook -> media stream -> STT -> bot -> speech back. Secrets come from the
    environment: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN (signatures, handoff), CALLBOT_ADMIN_TOKEN (/admin),
    CALLBOT_REDIS_PASSWORD (state.redis_url). SIGTERM drains: live calls finish or move to other replicas."""
    from bot.actions import ActionLoadError
    from bot.models import ModelNotFoundError
    from bot.nlu.parser import ModelLoadError
    from callbot.database import safe_url
    from callbot.state import read_state_settings, replica_name
    from stt import SttError
    from telephony import TelephonyError, twiml
    from telephony.server import Secrets, build_services
    from telephony.server import serve as run_server
    from telephony.settings import read_telephony_settings

    config = get_config(ctx)
    secrets = Secrets.from_env(os.environ)
    with user_errors(TelephonyError):
        settings = read_telephony_settings(config)
        state = read_state_settings(config)
    overrides = {
        k: v for k, v in {"public_url": public_url, "host": host, "port": port}.items() if v is not None
    }
    if public_url and not public_url.startswith(("https://", "http://")):
        fail(f"--public-url must start with https://, got {public_url!r}")
    settings = dataclasses.replace(settings, **overrides)
    if settings.public_url:
        settings = dataclasses.replace(settings, public_url=settings.public_url.rstrip("/"))
    if not secrets.auth_token and not insecure_dev:
        fail(
            "TWILIO_AUTH_TOKEN is not set: webhooks cannot be verified. Set it, or pass --insecure-dev locally."
        )
    if insecure_dev:
        console.print("[bold yellow]--insecure-dev:[/] Twilio signatures are NOT checked.")
    base = settings.public_url or f"http://{_display_host(settings.host)}:{settings.port}"
    console.print(
        f"Voice webhook (Twilio console > phone number > 'A call comes in', HTTP POST):\n  {base}/twilio/voice"
    )
    console.print(f"Status callback (optional, HTTP POST):\n  {base}/twilio/status")
    console.print(f"Media stream: {twiml.stream_url_for(base)} (reconnects: {twiml.resume_url_for(base)})")
    if state.shared and settings.sqlalchemy_url.startswith("sqlite"):
        console.print(
            "[yellow]state.redis_url is set but the call log is SQLite:[/] each replica keeps its own; "
            "set telephony.database_url (and bot.database_url) to one PostgreSQL database."
        )
    if state.shared:
        console.print(
            f"Shared state: Redis {safe_url(state.redis_url)}, call log {safe_url(settings.sqlalchemy_url)}; "
            f"replica {replica_name(state, settings.port)}"
        )
    else:
        console.print("State: in this process (set state.redis_url to run several replicas).")
    console.print(f"Operations: {base}/healthz, {base}/readyz, {base}/metrics; SIGTERM drains.")
    if not settings.public_url:
        console.print(
            "[yellow]No public URL:[/] pass --public-url https://<your-tunnel> so Twilio can reach this server."
        )
    if not (secrets.account_sid and secrets.auth_token):
        console.print(
            "[yellow]TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN not set:[/] handoffs end the call instead of dialing."
        )

    async def main() -> None:
        services = await build_services(config, secrets, settings=settings, insecure_dev=insecure_dev)
        console.print(f"bot version {services.bot.version}; listening on {settings.host}:{settings.port}")
        await run_server(services, settings.host, settings.port)

    with user_errors(TelephonyError, SttError, ModelNotFoundError, ModelLoadError, ActionLoadError):
        asyncio.run(main())


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host
