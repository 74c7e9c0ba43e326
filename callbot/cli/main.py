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
    from callbot.cli import nlu_cmd, train_cmd

    app.command("train")(train_cmd.train)
    app.add_typer(nlu_cmd.app, name="nlu")
    from callbot.cli import shell_cmd

    app.command("shell")(shell_cmd.shell)
    from callbot.cli import calls_cmd, serve_cmd, simulate_cmd

    app.command("serve")(serve_cmd.serve)
    app.add_typer(calls_cmd.app, name="calls")
    app.command("simulate-call")(simulate_cmd.simulate_call)
    from callbot.cli import replicas_cmd

    app.add_typer(replicas_cmd.app, name="replicas")
    from callbot.cli import drift_cmd

    app.add_typer(drift_cmd.app, name="drift")
    from callbot.cli import test_cmd

    app.add_typer(test_cmd.app, name="test")
    from callbot.cli import console_cmd

    app.add_typer(console_cmd.app, name="console")


_register()
