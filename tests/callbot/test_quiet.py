"""`callbot` commands print their own output, not the libraries' warnings (without --verbose).

The commands run in a subprocess, as a user runs them: TensorFlow's C++ notes, Python warnings and
progress bars only show at the process level."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from callbot.cli.common import LIBRARY_LOGGERS, OWN_PACKAGES, quiet_own_logs, setup_logging
from tests.bot.runtime_models import link_models, train_tiny_models, write_config
from tests.bot.test_runtime import model_cache
from tests.bot.test_train_fixtures import copy_trained, trained_nlu  # noqa: F401 (fixture)
from tests.data.conftest import CHAT_ROWS, QNA_ROWS, write_csv

CALLBOT = Path(sys.executable).with_name("callbot")
NOISE = re.compile(
    r"WARNING tensorflow|tf\.function retracing|WARNING:absl|DeprecationWarning|FutureWarning|UserWarning"
    r"|[IW] tensorflow/|oneDNN custom operations|\d+%\|[#█▏▎▍▌▋▊▉ ]*\||\d+it/s\]|Epochs?:"
)


def run(*args: str, stdin: str = "", cwd: Path | None = None) -> str:
    """`callbot ARGS` in a new process; its stdout and stderr together (it must succeed)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "LOG_LEVEL", "TQDM_DISABLE")
    }
    done = subprocess.run(
        [str(CALLBOT), *args], input=stdin, capture_output=True, text=True, timeout=900, env=env, cwd=cwd
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def noise(output: str) -> list[str]:
    return [line for line in output.splitlines() if NOISE.search(line)]


def test_the_noise_pattern_catches_what_leaked_before() -> None:
    leaked = [
        "2026-12-07 06:21:53,464 WARNING tensorflow 5 out of the last 5 calls to <function Model.make_train_"
        "function.<locals>.train_function at 0x7f9c> triggered tf.function retracing. Tracing is expensive",
        "2026-12-07 06:09:20.097203: I tensorflow/core/util/port.cc:110] oneDNN custom operations are on.",
        "WARNING:absl:Found untraced functions such as _update_step_xla while saving",
        "/x/rasa/shared/utils/io.py:99: DeprecationWarning: 'imghdr' is deprecated",
        "Epochs:  40%|████      | 2/5 [00:01<00:01,  1.94it/s, t_loss=3.1]",
    ]
    assert noise("\n".join(leaked)) == leaked
    assert noise("router       trained in 12.3 s\nbot> 안녕하세요, 맛있는 식당입니다.") == []


@pytest.fixture
def restored_logging(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "environ", dict(os.environ))
    names = ["", *OWN_PACKAGES, *LIBRARY_LOGGERS]
    before = {n: logging.getLogger(n).level for n in names}
    with warnings.catch_warnings():
        yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def test_libraries_log_errors_only_after_the_commands_own_lines_are_quieted(restored_logging) -> None:
    """What made TensorFlow's retracing warnings print in `shell` and `train`: quieting callbot's own
    INFO lines lowered the root logger (which TensorFlow's logger follows) from ERROR to WARNING."""
    setup_logging(verbose=False)
    quiet_own_logs()
    for name in ("tensorflow", "absl", "rasa.core.agent", "keras"):
        assert not logging.getLogger(name).isEnabledFor(logging.WARNING), name
    assert logging.getLogger("bot.runtime").isEnabledFor(logging.WARNING)
    assert os.environ["LOG_LEVEL"] == "ERROR" and os.environ["TQDM_DISABLE"] == "1"


def test_verbose_leaves_the_libraries_levels_alone(restored_logging) -> None:
    logging.getLogger("tensorflow").setLevel(logging.NOTSET)
    setup_logging(verbose=True)
    assert logging.getLogger("tensorflow").level == logging.NOTSET  # it follows the root: DEBUG


@pytest.mark.slow
def test_help_of_every_group_is_quiet() -> None:
    for group in ([], ["data"], ["stt"], ["nlu"], ["calls"], ["replicas"], ["test"]):
        output = run(*group, "--help")
        assert "Usage: callbot" in output and noise(output) == [], group


@pytest.mark.slow
def test_data_build_is_quiet(tmp_path: Path) -> None:
    config = {
        "paths": {"build_dir": str(tmp_path / "build")},
        "data": {
            "qna": [str(write_csv(tmp_path / "qna.csv", QNA_ROWS))],
            "chat_logs": [str(write_csv(tmp_path / "logs.csv", CHAT_ROWS))],
            "overlay_dir": str(tmp_path / "overlay"),
            "domains": ["order", "store", "common"],
            "augment": {"casual": True, "clipped": True, "asr": True, "asr_errors": None},
        },
    }
    (tmp_path / "callbot.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    output = run("--config", str(tmp_path / "callbot.yml"), "data", "build")
    assert "data build" in output and noise(output) == []


@pytest.mark.slow
def test_shell_on_trained_models_is_quiet(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    models = link_models(train_tiny_models(model_cache(request)), tmp_path / "models")
    config = write_config(tmp_path, models)
    lines = ["예약하고 싶어요", "4명이요", "아니요", "영업시간 알려 주세요", "주식 시세 알려줘", "/quit"]
    output = run("--config", str(config), "shell", stdin="\n".join(lines) + "\n")
    assert "bot> 몇 분이 오시나요?" in output and noise(output) == []


@pytest.mark.slow
def test_train_is_quiet(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    (root / "callbot.yml").write_text(
        "paths: {build_dir: build, models_dir: models}\nbot: {epochs: 2, router_epochs: 2}\n",
        encoding="utf-8",
    )
    output = run("--config", str(root / "callbot.yml"), "train", "--domain", "menu", "--force")
    assert "menu" in output and "trained" in output and noise(output) == []
