"""`callbot test conversations`: scripted callers against the trained bot, scored by task success."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from callbot.cli.common import console, err_console, fail, get_config, print_json, quiet_own_logs, user_errors

app = typer.Typer(help="Test the trained bot with scripted conversations.", no_args_is_help=True)


@app.command("conversations")
def conversations(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Conversation YAML files or folders of them."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (for scripts)."),
    tts: bool = typer.Option(
        False, "--tts", help="Speak user steps with the configured TTS through the phone audio path."
    ),
    tags: list[str] = typer.Option(None, "--tag", help="Only conversations with this tag (repeatable)."),
    report: Path = typer.Option(
        None, "--report", help="Markdown report file. Default: <state_dir>/conversations/report-<time>.md."
    ),
    min_pass_rate: float = typer.Option(
        1.0, "--min-pass-rate", min=0.0, max=1.0, help="Exit with code 1 below this pass rate (0-1)."
    ),
) -> None:
    """Play every conversation on fresh dialogue state with the real models and actions; report the
    pass rate and, per failed conversation, the first failing check with the bot's reply and slots."""
    from bot.actions import ActionLoadError
    from bot.conversations.report import write_report
    from bot.conversations.runner import SilencePolicy, run_text, selected
    from bot.conversations.spec import ConversationSpecError, load_suites
    from bot.models import ModelNotFoundError
    from bot.nlu.parser import ModelLoadError
    from callbot.cli.train_cmd import quiet_rasa
    from callbot.events import BotAction
    from telephony.settings import read_telephony_settings

    config = get_config(ctx)
    quiet_rasa(ctx)
    if not getattr(ctx.find_root().obj, "verbose", False):
        quiet_own_logs()  # per-turn log lines would bury the results
        logging.getLogger("tensorflow").setLevel(logging.ERROR)  # graph retracing notes
        warnings.simplefilter("ignore")  # Rasa's and its dependencies' deprecation notes
    with user_errors(ConversationSpecError, ModelNotFoundError, ModelLoadError, ActionLoadError):
        suites = load_suites(paths)
        total = selected(suites, tags or ())
        if total == 0:
            fail(f"no conversations with tag {', '.join(tags or [])} in {', '.join(map(str, paths))}")
        phone = read_telephony_settings(config)
        silence = SilencePolicy(
            phone.silence.max_reprompts,
            phone.silence.handoff_text if phone.agent_number else phone.silence.goodbye_text,
            BotAction.HANDOFF if phone.agent_number else BotAction.HANGUP,
        )
        state_dir = config.reader("paths").path("state_dir", "var")
        progress = _progress(total, quiet=as_json)
        if tts:
            from telephony.conversation_calls import run_phone

            run = asyncio.run(run_phone(config, suites, tags=tags or (), progress=progress))
        else:
            if any(s.kind == "audio" for suite in suites for c in suite.conversations for s in c.steps):
                fail("audio steps go through the phone path: add --tts")
            run = asyncio.run(run_text(config, suites, tags=tags or (), silence=silence, progress=progress))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    written = write_report(run, report or state_dir / "conversations" / f"report-{stamp}.md")
    if as_json:
        print_json({**run.to_dict(), "report": str(written)})
    else:
        _print(run, written)
    if run.pass_rate < min_pass_rate:
        raise typer.Exit(1)


def _progress(total: int, quiet: bool):
    done = [0]

    def show(result) -> None:
        done[0] += 1
        if quiet:
            return
        mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
        err_console.print(
            f"[dim]{done[0]}/{total}[/] {mark} {escape(result.conversation.name)}", highlight=False
        )

    return show


def _print(run, written: Path) -> None:
    failed = [r for r in run.results if r.failure is not None]
    if failed:
        table = Table(title="failed conversations (first failing check)", show_lines=True)
        for column in ("conversation", "check", "caller", "bot", "slots"):
            table.add_column(column, overflow="fold")
        for r in failed:
            f = r.failure
            where = f"step {f.step}" if f.step else "outcome"
            slots = ", ".join(f"{k}={v}" for k, v in f.slots.items())
            table.add_row(
                f"{r.conversation.name}\n[dim]{r.conversation.source}[/]",
                f"{f.check} ({where})\n{escape(f.message)}",
                escape(f.said or ""),
                escape(f.reply or ""),
                escape(slots),
            )
        console.print(table)
    console.print(
        f"[bold]{run.passed}/{len(run.results)} conversations passed "
        f"({100 * run.pass_rate:.1f}%)[/] in {run.seconds:.0f} s, models {run.version}, mode {run.mode}"
    )
    console.print(f"report: {written}")
