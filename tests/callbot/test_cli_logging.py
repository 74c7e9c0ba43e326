"""What `callbot` commands print: their own tables and lines, not their log records, unless --verbose."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from callbot.cli.common import OWN_PACKAGES, quiet_own_logs


@pytest.fixture
def restored_levels():
    names = ["", *OWN_PACKAGES]
    before = {n: logging.getLogger(n).level for n in names}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


class _Ctx:
    def __init__(self, verbose: bool) -> None:
        self.obj = SimpleNamespace(verbose=verbose)

    def find_root(self) -> _Ctx:
        return self


def test_quiet_own_logs_hides_callbots_info_lines_but_not_its_warnings(restored_levels) -> None:
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(logging.INFO)  # as setup_logging leaves them without --verbose
    quiet_own_logs(_Ctx(verbose=False))
    turn = logging.getLogger("bot.runtime")
    assert not turn.isEnabledFor(logging.INFO) and turn.isEnabledFor(logging.WARNING)
    assert not logging.getLogger("stt.lm.build").isEnabledFor(logging.INFO)


def test_with_verbose_every_line_stays(restored_levels) -> None:
    logging.getLogger("bot").setLevel(logging.DEBUG)
    quiet_own_logs(_Ctx(verbose=True))
    assert logging.getLogger("bot.runtime").isEnabledFor(logging.DEBUG)
