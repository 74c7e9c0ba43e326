"""The console's drift page and banner over a seeded call log (a test-split reference, no trained model)."""

from __future__ import annotations

import html
import random
import re

from console.drift_page import DriftCache
from drift.report import make_report
from tests.console.conftest import login
from tests.drift.test_report import NOW, SETTINGS, reference, tagger, write_days

UNKNOWN = ["밀키트 택배로 보내 주나요", "밀키트 주문하고 싶어요", "케이터링 출장 되나요"]


def unknown_topic(day: int, rng: random.Random) -> dict | None:
    """From day 25 of 30 callers ask about meal kits the bot does not know (refused)."""
    if day >= 25 and rng.random() < 0.15:
        return {"intent": "common_out_of_scope", "router_domain": "common", "outcome": "refused",
                "intent_confidence": rng.uniform(0.2, 0.6), "caller_text": rng.choice(UNKNOWN)}  # fmt: skip
    return None


def builder(services, calls: list[int]):  # noqa: ANN001, ANN201
    def build():  # noqa: ANN202
        calls.append(1)
        known = frozenset({"오늘", "날씨"})
        return make_report(
            services.engine, reference(), SETTINGS, 30, now=NOW, known_words=known, tagger=tagger
        )

    return build


def test_the_drift_page_needs_a_login(client):
    page = client.get("/console/drift", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith(
        "/console/login?next=%2Fconsole%2Fdrift"
    )
    assert client.get("/console/drift").status_code == 401


def test_an_alert_shows_its_words_and_a_banner_on_every_page(client, services):
    write_days(services.engine, 30, 400, unknown_topic)
    calls: list[int] = []
    services.drift.build = builder(services, calls)
    login(client, "anna")
    # No report kept yet: the inbox neither builds one nor shows a banner.
    inbox = client.get("/console/").text
    assert calls == [] and "Drift alert" not in inbox and 'href="/console/drift"' in inbox

    page = client.get("/console/drift")
    assert page.status_code == 200 and calls == [1]
    assert "Models <b>v-test</b>" in page.text
    # A table per scope with each signal's status; the alerting signal is marked.
    assert "<h2>menu" in page.text and "<h2>store" in page.text
    assert '<tr class="alert"><td>out_of_scope</td>' in page.text
    # The words behind the drift link to the window's refused turns in the inbox and to their calls.
    assert "Words behind the drift: all" in page.text
    assert '<a class="word" href="/console/?date_from=' in page.text and "outcome=refused" in page.text
    assert ">밀키트</a>" in page.text and ">날씨</a>" not in page.text
    assert 'href="/console/calls/CA' in page.text
    assert "Drift alert: <b>all</b> out_of_scope" in page.text

    inbox = client.get("/console/")
    assert "Drift alert: <b>all</b> out_of_scope" in inbox.text
    assert "Drift alert" in client.get("/console/labels").text
    client.get("/console/drift")
    assert calls == [1]  # kept: not built again within the ttl

    # A word's link opens the inbox on the refused turns of its window whose text has the word.
    link = html.unescape(re.search(r'<a class="word" href="([^"]+)">밀키트</a>', page.text).group(1))
    assert "outcome=refused" in link and "text=%EB%B0%80" in link
    found = set(re.findall(r'<div class="text">([^<]*)</div>', client.get(link).text))
    assert found == {"밀키트 택배로 보내 주나요", "밀키트 주문하고 싶어요"}


def test_a_kept_report_is_built_again_after_the_ttl(services):
    import asyncio

    now = [0.0]
    calls: list[int] = []
    cache = DriftCache(builder(services, calls), ttl=300.0, clock=lambda: now[0])
    asyncio.run(cache.get())
    now[0] = 299.0
    asyncio.run(cache.get())
    assert calls == [1]
    now[0] = 300.0
    asyncio.run(cache.get())
    assert calls == [1, 1]


def test_a_stable_log_shows_no_banner(client, services):
    write_days(services.engine, 30, 400)
    services.drift.build = builder(services, [])
    login(client, "anna")
    page = client.get("/console/drift").text
    assert "0 alerting window(s)" in page and "Words behind the drift" not in page
    assert "Drift alert" not in page and "Drift alert" not in client.get("/console/").text


def test_a_failing_report_is_named_and_the_console_keeps_serving(client, services):
    def broken():  # noqa: ANN202
        raise FileNotFoundError("models/current: no model version is serving")

    services.drift.build = broken
    login(client, "anna")
    page = client.get("/console/drift")
    assert page.status_code == 200 and "no model version is serving" in page.text
    assert client.get("/console/").status_code == 200


def test_without_a_serving_model_the_page_says_what_is_missing(client, services):
    # The default report: models/current of the console's callbot.yml (the seeded company trained none).
    assert services.drift.build is not None
    login(client, "anna")
    page = client.get("/console/drift")
    assert page.status_code == 200 and "The drift report could not be made" in page.text
    assert "no trained models in" in page.text and "run `callbot train`" in page.text
    assert "Drift alert" not in client.get("/console/").text


def test_the_banner_falls_back_to_the_servers_monitor_report(client, services):
    # `callbot serve` hands the console its drift monitor's latest report (drift.watch.DriftMonitor.latest).
    write_days(services.engine, 30, 400, unknown_topic)
    monitored = builder(services, [])()
    services.drift.fallback = lambda: monitored
    login(client, "anna")
    assert "Drift alert: <b>all</b> out_of_scope" in client.get("/console/").text
    services.drift.fallback = lambda: None
    assert "Drift alert" not in client.get("/console/").text
