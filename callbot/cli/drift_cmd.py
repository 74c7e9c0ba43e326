"""`callbot drift ...`: is live traffic still like the training data? Reports and traffic replays."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from callbot.cli.common import console, get_config, print_json, quiet_own_logs, user_errors

app = typer.Typer(
    help="Drift monitoring: compare live turns with the model's test split.", no_args_is_help=True
)

STYLE = {"alert": "bold red", "warn": "yellow", "ok": "green", "none": "dim"}


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    days: int = typer.Option(90, "--days", "-d", min=1, help="Local days back from today."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    html: Path = typer.Option(None, "--html", help="Also write an HTML report with charts to FILE."),
    all_windows: bool = typer.Option(False, "--all", help="Every window, not only each signal's latest."),
) -> None:
    """Per domain and signal: the latest window's verdict, the alerts, and the words behind them."""
    from bot.models import ModelNotFoundError
    from drift import DriftError
    from drift.monitor import date_of
    from drift.report import report_for_config, write_html

    quiet_own_logs(ctx)
    with user_errors(DriftError, ModelNotFoundError):
        report = report_for_config(get_config(ctx), days)
    if html is not None:
        write_html(html, report)
    if as_json:
        print_json(report.to_json())
        return
    table = Table("scope", "signal", "window", "level", "value", "limit", "n", "basis", "detail")
    rows = report.findings if all_windows else report.latest()
    for f in rows:
        window = date_of(f.day) + (f" +{f.days - 1}d" if f.days > 1 else "")
        detail = ", ".join(f"{k} {v}" for k, v in f.detail.items() if not isinstance(v, list | dict))
        if f.signal == "intent_mix" and f.detail.get("moved"):
            detail = " ".join(f"{m['label']} {m['reference']}->{m['live']}" for m in f.detail["moved"])
        table.add_row(
            f.scope, f.signal, window, f"[{STYLE[f.level]}]{f.level}[/]", f"{f.value:.4g}",
            "" if f.limit is None else f"{f.limit:.4g}", str(f.n), f.basis, detail,
        )  # fmt: skip
    console.print(table)
    console.print(f"models {report.version}; {len(report.alerts)} alert(s) in {days} day(s)")
    for w in report.words:
        words = ", ".join(f"{nw.word} {nw.count}" for nw in w.words[:10]) or "none"
        console.print(f"words behind {w.scope} {date_of(w.day)} ({w.refused} refused): {words}")
        for c in w.clusters[:5]:
            console.print(f"  {c.count} x {c.text}")
    if html is not None:
        console.print(f"HTML report: {html}")


@app.command("replay")
def replay_cmd(
    ctx: typer.Context,
    shift: str = typer.Option("stable", "--shift", help="stable, boost, unknown or recognition."),
    days: int = typer.Option(14, "--days", min=1, help="Days of traffic, the last one today."),
    per_day: int = typer.Option(300, "--per-day", min=1, help="Turns a day."),
    from_day: int = typer.Option(7, "--from-day", min=0, help="The day (0-based) the shift starts."),
    sentences: Path = typer.Option(
        Path("examples/restaurant/eval/polite.csv"), "--sentences", help="CSV text,intent[,domain]."
    ),
    unknown: Path = typer.Option(
        Path("examples/restaurant/drift/unknown_topic.csv"),
        "--unknown",
        help="Sentences of a topic the bot does not know.",
    ),
    intent: str = typer.Option("menu_discount", "--intent", help="boost: the intent that comes more often."),
    factor: float = typer.Option(
        3.0, "--factor", min=1.0, help="boost: how much more often; recognition: error x."
    ),
    share: float = typer.Option(0.15, "--share", min=0.0, max=1.0, help="unknown: share of the turns."),
    database: str = typer.Option(None, "--database", help="SQLAlchemy URL (default: the call log's)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write N days of call-log turns through the real bot (models/current), with an injected shift."""
    import asyncio
    import time

    from bot.runtime import Bot
    from callbot.database import DatabaseError, create_engine
    from data.augment.asr_errors import ErrorModel
    from data.settings import DataSettings
    from drift import DriftError
    from drift.replay import ReplayPlan, read_sentences, replay
    from drift.report import local_day
    from drift.settings import DriftSettings
    from telephony.settings import read_telephony_settings

    quiet_own_logs(ctx)
    config = get_config(ctx)
    with user_errors(DriftError, DatabaseError):
        settings = DriftSettings.from_config(config)
        errors_path = DataSettings.from_config(config).augment.asr_errors
        errors = ErrorModel.load(errors_path) if errors_path and Path(errors_path).is_file() else None
        off = settings.utc_offset_hours
        first = local_day(time.time(), off) - days + 1
        plan = ReplayPlan(
            days, per_day, shift, from_day, intent, factor, share, first * 86400.0 - off * 3600, off, seed
        )
        plan.check()
        known = read_sentences(config.resolve(sentences))
        other = read_sentences(config.resolve(unknown)) if shift == "unknown" else None
        engine = create_engine(database or read_telephony_settings(config).sqlalchemy_url)

        async def run():  # noqa: ANN202
            bot = await Bot.load(config)
            try:
                return await replay(
                    bot, engine, plan, known, unknown=other, errors=errors,
                    progress=lambda d: console.print(f"day {d + 1}/{days} written", highlight=False),
                )  # fmt: skip
            finally:
                bot.close()

        result = asyncio.run(run())
        engine.dispose()
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))
    console.print(
        f"{result.turns} turns ({result.distinct_texts} distinct texts read) in {result.seconds:.1f} s; {outcomes}"
    )
