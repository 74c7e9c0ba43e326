"""`callbot data ...`: build Rasa training data from a company's QnA sheets and chat logs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from callbot.cli.common import console, get_config, print_json, quiet_own_logs, user_errors
from data.errors import DataError

app = typer.Typer(help="Build training data from QnA sheets and chat logs.", no_args_is_help=True)


@app.command("build")
def build_cmd(
    ctx: typer.Context,
    qna: list[Path] = typer.Option(
        None, "--qna", help="QnA sheet (CSV/XLSX); repeatable. Default: data.qna."
    ),
    logs: list[Path] = typer.Option(
        None, "--logs", help="Chat log (CSV/JSONL); repeatable. Default: data.chat_logs."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder. Default: paths.build_dir."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Clean, PII-mask, label, augment and write per-domain Rasa projects plus the router data."""
    from data.build import build
    from data.settings import DataSettings

    config = get_config(ctx)
    quiet_own_logs(ctx)  # the tables below say what was built
    with user_errors(DataError):
        settings = DataSettings.from_config(config).with_inputs(qna, logs, out)
        labels = _operator_labels(config)
        if as_json:
            report = build(settings, operator_labels=labels)
            print_json(report.to_dict())
            return
        with Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            tasks: dict[str, int] = {}

            def on_progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=max(total, 1))
                bar.update(tasks[stage], completed=done, total=max(total, 1))

            report = build(settings, on_progress, operator_labels=labels)
    for table in report.tables():
        console.print(table)
    if report.problems_total:
        console.print(f"[yellow]{report.problems_total} row problems[/] (first ones):")
        for p in report.problems[:10]:
            console.print(f"  - {p['message']}", highlight=False)
    console.print(f"written to {settings.build_dir} (report: {settings.build_dir / 'report.json'})")


def _operator_labels(config):  # noqa: ANN001, ANN202 - console is imported lazily
    """The console's current labels from the call-log database (none when it has no labels table); those
    of the last `console.holdout_days` are held out (the console compares models on them)."""
    import time

    from callbot.database import DatabaseError
    from console.labels import labels_for_build
    from console.settings import read_console_settings

    settings = read_console_settings(config)
    before = time.time() - settings.holdout_days * 86400 if settings.holdout_days else None
    try:
        return labels_for_build(settings.database_url, before)
    except DatabaseError as exc:
        raise DataError(f"operator labels: {exc}") from exc
