"""`callbot console ...`: the operator console on its own port, and its users."""

from __future__ import annotations

import os

import typer

from callbot.cli.common import console, fail, get_config, user_errors

app = typer.Typer(
    help="The operator console (review, label, export). `callbot serve` also serves it under /console.",
    invoke_without_command=True,
)


def _services(ctx: typer.Context):  # noqa: ANN202 - console is imported lazily
    from callbot.database import DatabaseError
    from console import ConsoleError
    from console.app import ConsoleServices
    from console.settings import read_console_settings

    with user_errors(ConsoleError, DatabaseError):
        settings = read_console_settings(get_config(ctx))
        return ConsoleServices.open(
            settings, os.environ.get("CALLBOT_CONSOLE_SECRET"), os.environ.get("CALLBOT_ADMIN_TOKEN")
        )


@app.callback()
def run(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address."),
    port: int = typer.Option(None, "--port", help="Port. Default: console.port (8090)."),
) -> None:
    """Serve the console alone at http://HOST:PORT/console/ (same callbot.yml and call log as `serve`).
    CALLBOT_CONSOLE_SECRET signs sessions (without it a key is made once and kept in the database)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from callbot.database import safe_url
    from console.app import standalone_app

    services = _services(ctx)
    if not services.catalog.intents:
        console.print(
            "[yellow]No build/examples.csv:[/] run `callbot data build` so labels can name intents."
        )
    bind = port or services.settings.port
    console.print(
        f"Console: http://{host}:{bind}/console/ (call log {safe_url(services.settings.database_url)})",
        soft_wrap=True,
    )
    try:
        uvicorn.run(standalone_app(services), host=host, port=bind, log_level="warning", ws="wsproto")
    finally:
        services.close()


@app.command("add-user")
def add_user_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Login name."),
    admin: bool = typer.Option(False, "--admin", help="Admin role (users, unmasking); default annotator."),
) -> None:
    """Create a user, or set an existing user's password and role. The password comes from
    CALLBOT_CONSOLE_PASSWORD, else a prompt."""
    from console import ConsoleError
    from console.auth import add_user

    password = os.environ.get("CALLBOT_CONSOLE_PASSWORD")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    services = _services(ctx)
    try:
        with user_errors(ConsoleError):
            user = add_user(services.engine, name, password, "admin" if admin else "annotator")
    finally:
        services.close()
    console.print(f"user {user.name} ({user.role}) saved")


@app.command("users")
def users_cmd(ctx: typer.Context) -> None:
    """List the console's users."""
    from console.auth import list_users

    services = _services(ctx)
    try:
        users = list_users(services.engine)
    finally:
        services.close()
    for u in users:
        console.print(f"{u.name}\t{u.role}")
    if not users:
        fail("no users yet: callbot console add-user NAME --admin")
