"""`callbot stt ...`: evaluate speech recognition and draft transcripts for operators."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from callbot.cli.common import console, fail, get_config, print_json, user_errors
from callbot.config import Config

app = typer.Typer(
    help="Speech to text: evaluation on recorded clips and draft transcripts.", no_args_is_help=True
)
logger = logging.getLogger(__name__)


def _recognizer(config: Config, model: Path | None, second_pass: bool = True):  # -> SpeechRecognizer
    from stt.config import read_stt_settings
    from stt.engine import SpeechRecognizer

    settings = read_stt_settings(config)
    if model is not None:
        if not model.is_dir():
            fail(f"--model: model folder does not exist: {model}")
        settings = dataclasses.replace(settings, models={rate: model.resolve() for rate in settings.models})
    if not second_pass:
        off = dataclasses.replace(settings.second_pass, engine="none")
        settings = dataclasses.replace(settings, second_pass=off)
    return SpeechRecognizer.from_settings(settings)


def _bot_intent_fn(config: Config) -> tuple[Callable[..., str] | None, str]:
    """The trained bot's reading of a text (with the recognizer's n-best, if given) as a call's first
    turn (`Bot.handle`: router, domain model, the rejection rule, misheard words and other hypotheses
    read again, the confirmation band), or None and why: the
    intent answered, `out_of_scope` for a refusal or a turn not understood, and `<intent>?` when the
    bot asked whether the caller meant that intent (stt.evaluate counts it as that intent: the
    caller's yes gets it). Loading Rasa is slow, so this only runs for manifests with intents."""
    from bot.evaluate import OOS_LABEL
    from bot.runtime import Bot
    from callbot.events import TurnOutcome, UserText

    loop = asyncio.new_event_loop()
    try:
        bot = loop.run_until_complete(Bot.load(config))
    except Exception as exc:  # noqa: BLE001 - a missing or broken bot only disables this figure
        loop.close()
        return (
            None,
            f"intent accuracy unavailable: no trained bot could be loaded ({exc}); run `callbot train`",
        )
    counter = iter(range(1_000_000_000))

    async def read(text: str, alternatives: tuple[tuple[str, float], ...]) -> str:
        session = bot.new_session(f"stt-eval-{next(counter)}")
        try:
            reply = await bot.handle(session, UserText(text, alternatives=alternatives))
        finally:
            await bot.end_session(session)
        outcome = reply.understanding.outcome if reply.understanding is not None else None
        if outcome is TurnOutcome.CONFIRM_ASKED and reply.intent:
            return f"{reply.intent}?"
        if outcome in (TurnOutcome.ACCEPTED, TurnOutcome.FORM) and reply.intent:
            return OOS_LABEL if bot.loaded.thresholds.is_out_of_scope(reply.intent) else reply.intent
        return OOS_LABEL

    def intent_of(text: str, alternatives: tuple[tuple[str, float], ...] = ()) -> str:
        return loop.run_until_complete(read(text, alternatives)) if text.strip() else OOS_LABEL

    return intent_of, ""


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    )


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    manifest: Path = typer.Argument(
        ..., help="CSV/TSV with audio path (relative to it), text, optional intent."
    ),
    telephone: bool = typer.Option(
        False, "--telephone", help="Send audio through the 8 kHz mu-law phone path."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    out: Path = typer.Option(None, "--out", "-o", help="Write per-clip results to this CSV."),
    model: Path = typer.Option(
        None, "--model", help="Vosk model folder for every rate (default: stt.models)."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Evaluate only the first N clips."),
    second_pass: bool = typer.Option(
        True, "--second-pass/--no-second-pass", help="Read each utterance again (stt.second_pass)."
    ),
) -> None:
    """CER (with and without spaces), WER, real-time factor and, with intents, intent accuracy, per
    pass: vosk (streaming), the second pass (whisper) and final (what a call acts on)."""
    from stt import SttError
    from stt.evaluate import evaluate, read_manifest, write_results

    config = get_config(ctx)
    with user_errors(SttError):
        rows = read_manifest(manifest, limit)
        recognizer = _recognizer(config, model, second_pass)
        intent_fn, note = _bot_intent_fn(config) if any(r.intent for r in rows) else (None, "")
        with _progress(as_json) as bar:
            task = bar.add_task("decoding", total=len(rows))
            report = evaluate(
                rows,
                recognizer,
                telephone=telephone,
                intent_fn=intent_fn,
                intent_note=note,
                progress=lambda _clip: bar.advance(task),
            )
        recognizer.close()
        if out is not None:
            write_results(report, out)
    if as_json:
        print_json(
            report.summary()
            | {"errors": [{"path": c.path, "error": c.error} for c in report.clips if c.error]}
        )
        return
    audio = "8 kHz mu-law phone path" if telephone else "file audio"
    table = Table(
        title=f"STT evaluation: {len(report.clips)} clips, {report.failed} failed",
        caption=f"{manifest} ({audio})",
    )
    columns = ("cer", "cer_nospace", "wer", "rtf", "intent_accuracy", "latency_p50_ms", "latency_p95_ms")
    table.add_column("pass")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    for name, figures in report.passes.items():
        values = dataclasses.asdict(figures)
        table.add_row(name, *("n/a" if values[c] is None else str(values[c]) for c in columns))
    console.print(table)
    if report.fallbacks:
        fallbacks = ", ".join(f"{k} {v}" for k, v in report.fallbacks.items())
        console.print(f"second pass not used for: {fallbacks}", highlight=False)
    if report.intent_note:
        console.print(report.intent_note, highlight=False)
    for clip in report.clips:
        if clip.error:
            console.print(f"[yellow]skipped[/] {clip.error}", highlight=False)
    if out is not None:
        console.print(f"per-clip results: {out}")


@app.command("transcribe")
def transcribe_cmd(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Audio files or folders (searched recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Drafts CSV; files already in it are skipped."),
    model: Path = typer.Option(None, "--model", help="Vosk model folder (default: stt.models)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Draft transcripts (text, confidence, word times, low-confidence flag) for operators to correct."""
    from stt import SttError
    from stt.transcribe import expand_paths, transcribe_files

    config = get_config(ctx)
    with user_errors(SttError):
        files = expand_paths(paths)
        recognizer = _recognizer(config, model)
        with _progress(as_json) as bar:
            task = bar.add_task("transcribing", total=len(files))
            summary = transcribe_files(files, recognizer, out, progress=lambda _p, _s: bar.advance(task))
        recognizer.close()
    if as_json:
        print_json(dataclasses.asdict(summary) | {"out": str(out)})
        return
    table = Table(title=f"Draft transcripts -> {out}")
    for name in ("written", "low confidence", "skipped (already done)", "failed"):
        table.add_column(name, justify="right")
    table.add_row(
        str(summary.written), str(summary.low_confidence), str(summary.skipped), str(summary.failed)
    )
    console.print(table)
    for _path, error in summary.errors[:20]:
        console.print(f"[yellow]failed[/] {error}", highlight=False)


@app.command("errors")
def errors_cmd(
    ctx: typer.Context,
    manifest: Path = typer.Argument(..., help="CSV/TSV with audio path (relative to it) and text."),
    out: Path = typer.Option(..., "--out", "-o", help="JSON error model to write (data.augment.asr_errors)."),
    telephone: bool = typer.Option(True, "--telephone/--file-audio", help="Through the 8 kHz phone path."),
    from_pass: str = typer.Option("final", "--pass", help="Learn from vosk, the second pass, or final."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Learn what the recognizer gets wrong (syllable parts misheard, syllables and spaces dropped or
    added) from recordings with transcripts; `data build` then writes training text with those errors."""
    import datetime as dt

    from data.augment.asr_errors import learn
    from stt import SttError
    from stt.evaluate import evaluate, read_manifest

    config = get_config(ctx)
    with user_errors(SttError):
        rows = read_manifest(manifest)
        recognizer = _recognizer(config, None)
        with _progress(as_json) as bar:
            task = bar.add_task("decoding", total=len(rows))
            report = evaluate(rows, recognizer, telephone=telephone, progress=lambda _c: bar.advance(task))
        second = recognizer.second_pass.name if recognizer.second_pass is not None else None
        recognizer.close()
    heard = {"vosk": lambda c: c.vosk_hypothesis, "final": lambda c: c.hypothesis}
    if second is not None:
        heard[second] = lambda c: c.second_hypothesis or ""
    if from_pass not in heard:
        fail(f"--pass: {from_pass!r} is not one of {', '.join(heard)}")
    clips = [c for c in report.clips if not c.error]
    model = learn(
        ((c.reference, heard[from_pass](c)) for c in clips),
        provenance={
            "recognizer": from_pass if from_pass != "final" else f"final ({second or 'vosk'})",
            "audio": "8 kHz mu-law phone path" if telephone else "file audio",
            "manifest": manifest.name,
            "clips": len(clips),
            "learned": dt.date.today().isoformat(),
        },
    )
    model.save(out)
    summary = {
        "clips": len(clips),
        "syllables": model.syllables,
        "substituted": round(model.rate(model.substituted, model.syllables), 4),
        "deleted": round(model.rate(model.deleted, model.syllables), 4),
        "inserted": round(model.rate(model.inserted, model.syllables), 4),
        "spaces_dropped": round(model.rate(model.spaces_dropped, model.spaces), 4),
        "spaces_added": round(model.rate(model.spaces_added, model.gaps), 4),
        "out": str(out),
    }
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"Recognition errors learned from {len(clips)} clips ({from_pass})")
    table.add_column("what")
    table.add_column("rate", justify="right")
    for key, value in summary.items():
        if key not in ("clips", "out"):
            table.add_row(key, str(value))
    console.print(table)
    console.print(f"error model written to {out}")
