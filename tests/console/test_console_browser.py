"""The console in a real browser (Debian's chromium, headless, through Playwright): log in, hear a
turn, label with the keyboard only, apply a label to similar turns. The screenshots in docs/img/ are
taken here: `make screenshots` writes them there; an ordinary run keeps them in a temporary folder, so a
test run never changes the checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from console.store import labels_table
from tests.console.conftest import PASSWORD
from tests.console.live import browser_page, chromium_missing, serve_console


@pytest.fixture(autouse=True)
def _chromium() -> None:
    """Skipped with the reason where chromium is missing; a failure where the services are required (CI)."""
    why = chromium_missing()
    if why and os.environ.get("CALLBOT_TEST_SERVICES") == "required":
        pytest.fail(f"{why}; the browser tests are required here (CALLBOT_TEST_SERVICES=required)")
    if why:
        pytest.skip(why)


def _labels(services) -> list[tuple[int, str, str, str]]:
    with services.engine.connect() as db:
        rows = db.execute(
            sa.select(
                labels_table.c.turn_id, labels_table.c.intent, labels_table.c.action, labels_table.c.text
            )
            .where(labels_table.c.current.is_(True))
            .order_by(labels_table.c.id)
        )
        return [tuple(r) for r in rows]


def _log_in(page, base: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url  # sent to the login page first
    page.fill("input[name=name]", "anna")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("tr.turn.current")


def _shot(page, name: str) -> None:
    """A screenshot for docs/console.md, reduced to 64 colours to keep the repository small."""
    from PIL import Image

    images = Path(
        os.environ.get("CALLBOT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "callbot-screenshots"
    )
    images.mkdir(parents=True, exist_ok=True)
    path = images / name
    page.screenshot(path=str(path))
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64)
    small.save(path, optimize=True)


def _current_id(page) -> int:
    return int(page.get_attribute("tr.turn.current", "data-turn-id"))


def test_log_in_hear_a_turn_and_label_with_the_keyboard_only(services):
    with serve_console(services) as base, browser_page() as page:
        _log_in(page, base)
        # The riskiest turn first; its caller audio loads only when played (p), then reports its duration.
        first = _current_id(page)
        assert page.get_attribute("tr.turn.current audio", "preload") == "none"
        page.keyboard.press("p")
        page.wait_for_function(
            "() => { const a = document.querySelector('tr.turn.current audio'); return a && a.duration > 0; }"
        )
        duration = page.evaluate("document.querySelector('tr.turn.current audio').duration")
        assert duration == pytest.approx(0.6, abs=0.05)
        _shot(page, "console-inbox.png")

        # Enter accepts the model's intent; the next unlabelled turn gets the focus.
        page.keyboard.press("Enter")
        page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{first}"]')
        second = _current_id(page)
        assert second != first
        # 2 picks the second intent of the ranking.
        ranking = page.evaluate("JSON.parse(document.querySelector('tr.turn.current').dataset.ranking)")
        page.keyboard.press("2")
        page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{second}"]')
        # / searches intents by their Korean examples; Enter takes the first found.
        third = _current_id(page)
        page.keyboard.press("/")
        page.keyboard.type("영업 시간")
        _shot(page, "console-search.png")
        page.keyboard.press("Enter")
        page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{third}"]')
        # o: out of scope. e: edit the transcript, Enter keeps the edit, then Enter labels it.
        fourth = _current_id(page)
        page.keyboard.press("o")
        page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{fourth}"]')
        fifth = _current_id(page)
        page.keyboard.press("s")  # skip: nothing stored
        sixth = _current_id(page)
        page.keyboard.press("e")
        page.keyboard.press("Control+A")
        page.keyboard.type("주차 가능한가요")
        page.keyboard.press("Enter")
        page.keyboard.press("1")
        page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{sixth}"]')

    labels = {turn: (intent, action, text) for turn, intent, action, text in _labels(services)}
    assert labels[first][:2] == ("store_parking", "accept")
    assert labels[second][:2] == (ranking[1][0], "pick")
    assert labels[third][:2] == ("store_hours", "search")
    assert labels[fourth][:2] == ("common_out_of_scope", "out_of_scope")
    assert fifth not in labels
    assert labels[sixth][1:] == ("edit", "주차 가능한가요")


def test_apply_to_similar_from_the_keyboard(services):
    with serve_console(services) as base, browser_page() as page:
        _log_in(page, base)
        first = _current_id(page)
        text = page.get_attribute("tr.turn.current", "data-text")
        page.keyboard.press("a")
        page.wait_for_selector("#similar:not([hidden])")
        count = int(page.inner_text("#similar-count"))
        assert count >= 2
        _shot(page, "console-similar.png")
        page.keyboard.press("1")
        page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{first}"]')
        page.wait_for_function("() => document.querySelector('#similar').hidden")
    labels = _labels(services)
    assert len(labels) == count
    assert {action for _, _, action, _ in labels} == {"similar"}
    assert any(t == text for *_, t in labels)
