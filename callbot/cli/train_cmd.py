"""`callbot train`: train the router and changed domain models into a new version, switch to it."""

from __future__ import annotations

import contextlib
import signal
import sys

import typer
from rich.table import Table

from callbot.cli.common import console, err_console, fail, get_config, print_json, quiet_own_logs, user_errors


def train(
    ctx: typer.Context,
    domain: list[str] = typer.Option(
        None, "--domain", "-d", help="Retrain only this model (a domain or 'router'); repeatable."
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Retrain even unchanged models."),
    as_json: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
    candidate: bool = typer.Option(
        False, "--candidate", help="Keep models/current: the new version waits for comparison and promotion."
    ),
) -> None:
    """Train NLU/dialogue models from build/rasa/ into models/<version>/ and make it current.

    Unchanged models (same data, config and component versions) are reused from the current version.
    Thresholds for rejecting unsure or out-of-scope turns are calibrated on build/test.csv.
    """
    from bot.config import BotSettings
    from bot.models import ModelNotFoundError
    from bot.nlu.parser import ModelLoadError
    from bot.train import TrainingError
    from bot.train import train as run_training

    config = get_config(ctx)
    quiet_rasa(ctx)
    quiet_own_logs(ctx)  # progress lines and the table below say what was trained and built
    # With --json, stdout carries only the report: Rasa's own messages go to stderr.
    out = err_console if as_json else console

    def progress(name: str, message: str) -> None:
        out.print(f"[bold cyan]{name:<12}[/] {message}", highlight=False)

    # A `kill` then unwinds like Ctrl-C: training removes its temp folder and `current` stays as it was.
    signal.signal(signal.SIGTERM, _interrupt)
    with user_errors(TrainingError, ModelNotFoundError, ModelLoadError):
        settings = BotSettings.from_config(config)
        redirect = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
        try:
            with redirect:
                report = run_training(
                    config,
                    settings,
                    only=domain or None,
                    force=force,
                    progress=progress,
                    activate=not candidate,
                )
        except KeyboardInterrupt:
            fail("training interrupted; the previous models/current is unchanged", 130)
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(title=f"models {report.version}" + ("" if report.created else " (unchanged)"))
    for column in ("model", "status", "secs", "fingerprint", "from version"):  # fits 80 columns whole
        table.add_column(column, no_wrap=True)
    for m in report.models:
        table.add_row(m.name, m.status, f"{m.seconds:.1f}", m.fingerprint, m.from_version or "")
    console.print(table)
    th = report.thresholds
    console.print(
        f"thresholds: router {th.get('router')}, domains {th.get('domains') or th.get('domain_default')}"
    )
    for hook in report.hooks:
        colour = "green" if hook.ok else "yellow"
        console.print(f"post-train [{colour}]{hook.name}[/]: {'ok' if hook.ok else hook.message}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def quiet_rasa(ctx: typer.Context) -> None:
    """Rasa's structured logger prints every debug event unless configured; keep it at our level."""
    import logging

    from rasa.utils.log_utils import configure_structlog

    verbose = getattr(ctx.find_root().obj, "verbose", False)
    configure_structlog(logging.DEBUG if verbose else logging.WARNING)
