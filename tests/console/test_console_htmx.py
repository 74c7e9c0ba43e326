"""htmx in the console (static/htmx.min.js, vendored): the inbox's filters and pages swap only the
inbox and push the address, the Models page's posts carry the CSRF token as a header and get the page's
body back, a job's progress is polled as a part; the keyboard labels the swapped-in turns. Over HTTP,
and in Debian's chromium where it is installed."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from pathlib import Path

import pytest

from console.jobs import Jobs
from tests.console.conftest import PASSWORD, login
from tests.console.live import browser_page, chromium_missing, serve_console

HX = {"HX-Request": "true"}
STATIC = Path(__file__).resolve().parents[2] / "console" / "static"


def test_htmx_is_vendored_with_its_version_and_license_and_served(client):
    script = (STATIC / "htmx.min.js").read_text(encoding="utf-8")
    version = re.search(r'version:"(2\.[0-9.]+)"', script).group(1)
    notice = (STATIC / "htmx.LICENSE").read_text(encoding="utf-8")
    assert f"htmx {version}" in notice and "0BSD" in notice and "Zero-Clause BSD" in notice
    served = client.get("/console/static/htmx.min.js")
    assert served.status_code == 200 and served.text == script
    login(client, "anna")
    page = client.get("/console/").text
    assert '<script src="/console/static/htmx.min.js" defer></script>' in page


def test_a_filter_or_page_asked_by_htmx_gets_only_the_inbox_and_its_address(client):
    login(client, "anna")
    part = client.get("/console/?outcome=refused&store=&text=&status=unlabelled", headers=HX)
    assert part.status_code == 200
    assert part.text.lstrip().startswith('<div id="inbox"')
    assert "<html" not in part.text and 'id="inbox"' in part.text and "<datalist" not in part.text
    assert part.text.count('<tr class="turn') == 4
    # The address pushed is the filter's own link, without the form's empty fields.
    assert part.headers["hx-push-url"] == "/console/?outcome=refused&status=unlabelled&page=1"
    # A wrong value is reported in the page's #flash; the inbox stays as it was.
    bad = client.get("/console/?conf_max=2", headers=HX)
    assert bad.status_code == 400 and bad.headers["hx-retarget"] == "#flash"
    assert bad.headers["hx-push-url"] == "false"  # the address keeps the last good filter
    assert "conf_max=&#x27;2&#x27;: expected a confidence between 0 and 1" in bad.text
    # A history restore (the back button with nothing cached) gets the whole page.
    whole = client.get("/console/?outcome=refused", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in whole.text


def test_htmx_posts_need_the_csrf_header_and_errors_go_to_the_flash(client, services):
    csrf = login(client, "admin")
    page = client.get("/console/models").text
    assert f"""<body hx-headers='{{"X-CSRF-Token": "{csrf}"}}'>""" in page  # every htmx request sends it
    no_token = client.post("/console/models/rollback", headers=HX)
    assert no_token.status_code == 403 and no_token.headers["hx-retarget"] == "#flash"
    assert "missing or wrong CSRF token" in no_token.text
    refused = client.post("/console/models/rollback", headers={**HX, "X-CSRF-Token": csrf})
    assert refused.status_code == 400 and "nothing to roll back" in refused.text
    # Logged out, a part of a page sends the whole page to the login.
    client.cookies.clear()
    gone = client.get("/console/?page=2", headers={**HX, "HX-Current-URL": "http://x/console/?page=2"})
    assert gone.status_code == 401
    assert gone.headers["hx-redirect"] == "/console/login?next=%2Fconsole%2F%3Fpage%3D2"


def test_a_running_job_is_polled_as_a_part_and_its_end_brings_the_page_body(client, services):
    login(client, "admin")
    finish = threading.Event()
    job = services.jobs.start("train", "admin", lambda j: (j.lines.append("step one"), finish.wait(30)))
    running = client.get(f"/console/jobs/{job.id}", headers=HX)
    assert 'hx-trigger="every 1s"' in running.text and "hx-retarget" not in running.headers
    assert 'id="flash"' not in running.text  # a poll leaves an error message in place
    finish.set()
    ended = _wait_ended(client, job.id)
    assert ended.headers["hx-retarget"] == "#models"
    assert 'id="models"' in ended.text and f"job {job.id} (admin): done" in ended.text
    assert 'hx-trigger="every 1s"' not in ended.text


def _wait_ended(client, job_id: int):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = client.get(f"/console/jobs/{job_id}", headers=HX)
        if "hx-retarget" in r.headers:
            return r
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running")


# -- in the browser ----------------------------------------------------------------------------------


@pytest.fixture
def browser() -> None:
    why = chromium_missing()
    if why and os.environ.get("CALLBOT_TEST_SERVICES") == "required":
        pytest.fail(f"{why}; the browser tests are required here (CALLBOT_TEST_SERVICES=required)")
    if why:
        pytest.skip(why)


def _log_in(page, base: str, name: str, path: str = "/") -> None:  # noqa: ANN001
    page.goto(base + path)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")


def test_filtering_and_paging_swap_the_inbox_and_the_keys_go_on(browser, services):
    services.settings = dataclasses.replace(services.settings, page_size=5)
    with serve_console(services) as base, browser_page() as page:
        _log_in(page, base, "anna")
        page.wait_for_selector("tr.turn.current")
        page.evaluate("window.samePage = true")  # gone if the browser loaded a page instead of a part
        assert page.inner_text("p.count").startswith("8 turns · page 1 of 2")

        page.click("a[rel=next]")
        page.wait_for_function("() => document.querySelector('p.count').innerText.includes('page 2 of 2')")
        assert page.url.endswith("/console/?status=unlabelled&page=2")
        assert page.evaluate("window.samePage") is True
        assert page.locator("tr.turn").count() == 3

        page.fill("input[name=text]", "주차")
        page.keyboard.press("Enter")  # submits the filter (the keys are for turns, not for fields)
        page.wait_for_function("() => document.querySelector('p.count').innerText.startsWith('4 turns')")
        assert page.evaluate("window.samePage") is True
        assert "text=%EC%A3%BC%EC%B0%A8" in page.url and "page=1" in page.url
        texts = page.eval_on_selector_all("tr.turn", "rows => rows.map(r => r.dataset.text)")
        assert len(texts) == 4 and all("주차" in t for t in texts)
        assert page.input_value("input[name=text]") == "주차"

        # The keyboard labels the swapped-in turns, from the first one.
        first = page.get_attribute("tr.turn.current", "data-turn-id")
        assert first == page.get_attribute("tr.turn", "data-turn-id")
        page.keyboard.press("Enter")
        page.wait_for_selector(f'tr.turn.labelled[data-turn-id="{first}"]')
        assert page.get_attribute("tr.turn.current", "data-turn-id") != first

        # Back: the page before comes from the server again (no snapshot of a page that changed).
        page.go_back()
        page.wait_for_function("() => document.querySelector('p.count').innerText.includes('page 2 of 2')")
        page.wait_for_selector("tr.turn.current")

        # A wrong value is named above the inbox, which stays, and so does the address; the next good
        # filter clears the message.
        rows = page.locator("tr.turn").count()
        page.fill("input[name=conf_max]", "7")
        page.keyboard.press("Enter")
        page.wait_for_selector("#flash .error:has-text(\"conf_max='7'\")")
        assert page.locator("tr.turn").count() == rows
        assert page.url.endswith("/console/?status=unlabelled&page=2")
        page.fill("input[name=conf_max]", "")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.getElementById('flash').textContent.trim() === ''")


def test_a_job_s_progress_shows_on_the_models_page_until_it_ends(browser, services):
    step, finish = threading.Event(), threading.Event()

    def work(job):  # noqa: ANN001, ANN202
        job.lines.append("building the data")
        step.wait(30)
        job.lines.append("training store")
        finish.wait(30)

    services.jobs = Jobs(services.engine, tick=0.1)
    with serve_console(services) as base, browser_page() as page:
        job = services.jobs.start("train", "admin", work)
        _log_in(page, base, "admin", "/models")
        page.wait_for_selector(f"pre#job-{job.id}[data-state=running]")
        page.evaluate("window.samePage = true")
        assert page.is_disabled("button:text-is('Train')")
        step.set()
        page.wait_for_selector(f"pre#job-{job.id}:has-text('training store')")
        finish.set()
        page.wait_for_selector(f"pre#job-{job.id}[data-state=done]")
        assert page.evaluate("window.samePage") is True
        assert page.is_enabled("button:text-is('Train')")
