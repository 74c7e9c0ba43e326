"""Shared helpers for CLI modules: config loading from the global --config option, error exits."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from callbot.config import Config, ConfigError, load_config

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    config_path: Path | None = None
    verbose: bool = False


def get_config(ctx: typer.Context) -> Config:
    state: CliState = ctx.find_root().obj or CliState()
    try:
        return load_config(state.config_path)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable; for type checkers


def fail(message: str, code: int = 1) -> None:
    """Print a user-facing error and exit: the only place callbot exits with an error."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the library's specific exceptions into a clean message and exit code 1."""
    try:
        yield
    except (ConfigError, *kinds) as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


OWN_PACKAGES = ("callbot", "bot", "stt", "telephony", "data", "drift")


def quiet_own_logs(ctx: typer.Context | None = None) -> None:
    """Commands that print what they did themselves (shell and conversation tests each turn, data build
    and train their summary tables): callbot's own INFO lines would repeat or interleave with that
    output; warnings and errors still show. With `ctx` and `--verbose`, nothing changes."""
    if ctx is not None and getattr(ctx.find_root().obj, "verbose", False):
        return
    root = logging.getLogger()  # never lowered: the libraries' loggers inherit its level (ERROR)
    root.setLevel(max(root.level or logging.WARNING, logging.WARNING))
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(logging.WARNING)


# Libraries whose warnings reached `callbot` output: TensorFlow's "triggered tf.function retracing" (Rasa
# loads and runs several DIET models), absl's and Keras' notes on saved models, Rasa's own. Without
# --verbose they log errors only, whatever a library set (Rasa sets its level from LOG_LEVEL).
LIBRARY_LOGGERS = ("tensorflow", "absl", "keras", "h5py", "rasa", "py.warnings", "matplotlib", "numexpr")


def _no_warning(*_args: object, **_kwargs: object) -> None:
    return None


def setup_logging(verbose: bool) -> None:
    """Logs go to stderr, so that `--json` output on stdout stays machine-readable.

    Without --verbose, callbot's own packages log at INFO and the libraries (Rasa, TensorFlow, ...) only
    their errors; Python's warnings (deprecations) and the libraries' progress bars (Rasa's training
    epochs) are left out: operators read this output. Rasa logs through structlog, whose default prints every debug event to stdout: it is
    routed to stderr and filtered at the same level as the standard logging.
    """
    import structlog

    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(level)
    if not verbose:
        warnings.filterwarnings("ignore")
        warnings.showwarning = _no_warning  # libraries that reset the filters on import stay quiet too
        os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is first imported (by Rasa, later)
        os.environ.setdefault("LOG_LEVEL", "ERROR")  # Rasa's own level: it also turns its epoch bars off
        os.environ.setdefault("LOG_LEVEL_LIBRARIES", "ERROR")  # what Rasa sets TensorFlow's logger to
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if verbose else logging.WARNING),
        cache_logger_on_first_use=True,
    )
