"""`callbot`: the single entry point. Each command group lives in its own module."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from callbot.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

app = typer.Typer(
    name="callbot",
    help="Korean phone call-center bots: data build, training, evaluation, STT, and the Twilio server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    config: Path = typer.Option(
        None, "--config", "-c", help="Configuration file (default: ./callbot.yml; missing = defaults)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    ctx.obj = common.CliState(config_path=config, verbose=verbose)
    common.setup_logging(verbose)


def _register() -> None:
    from callbot.cli import data_cmd

    app.add_typer(data_cmd.app, name="data")
    from callbot.cli import stt_cmd

    app.add_typer(stt_cmd.app, name="stt")


_register()
