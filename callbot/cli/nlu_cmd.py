"""`callbot nlu ...`: evaluate the trained NLU models on labelled texts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from callbot.cli.common import console, get_config, print_json, user_errors

app = typer.Typer(help="Evaluate the trained NLU (router + domain models).", no_args_is_help=True)


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        None, help="CSV/TSV files with text,intent[,domain,kind]. Default: build/test.csv."
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Folder for predictions.csv and report.html. Default: var/eval/<time>."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Run every text through router -> domain model -> rejection, and score intents and rejection."""
    from bot.config import BotSettings
    from bot.evaluate import EvalDataError, run_eval
    from bot.models import ModelNotFoundError
    from bot.nlu.parser import ModelLoadError
    from callbot.cli.train_cmd import quiet_rasa

    config = get_config(ctx)
    quiet_rasa(ctx)
    with user_errors(EvalDataError, ModelNotFoundError, ModelLoadError):
        settings = BotSettings.from_config(config)
        paths = config.reader("paths")
        state_dir = paths.path("state_dir", "var")
        data = config.reader("data")
        common = data.str("common_domain", "common")
        targets = list(files) if files else [settings.build_dir / "test.csv"]
        out_dir = out or state_dir / "eval" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        run = asyncio.run(run_eval(settings.models_dir, targets, out_dir, common))
    if as_json:
        print_json(run.to_dict())
        return
    table = Table(title=f"NLU evaluation, models {run.version}")
    for column in ("subset", "n", "accuracy", "router acc", "in-scope acc", "OOS n", "OOS accepted"):
        table.add_column(column)
    for s in run.scores:
        table.add_row(
            s.name,
            str(s.count),
            _pct(s.accuracy),
            _pct(s.router_accuracy),
            _pct(s.in_scope_accuracy),
            str(s.out_of_scope_count),
            _pct(s.out_of_scope_accepted),
        )
    console.print(table)
    console.print(f"predictions: {run.predictions_csv}\nreport: {run.report_html}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"
