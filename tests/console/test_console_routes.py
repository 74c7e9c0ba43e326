"""The console over HTTP: login, roles, CSRF, the inbox order and filters, audio, labelling."""

from __future__ import annotations

import html
import io
import wave

import sqlalchemy as sa

from console.store import audit_table, labels_table
from tests.console.conftest import PASSWORD, login


def test_every_route_needs_a_login(client):
    # A browser asking for a page is sent to the login page, with the page to come back to.
    page = client.get("/console/?status=all", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/console/login?next=%2Fconsole%2F%3Fstatus%3Dall")
    for method, path in [
        ("get", "/console/"),
        ("get", "/console/calls/CA00000000000000000000000000000000"),
        ("get", "/console/audio/2.wav"),
        ("get", "/console/similar/2"),
        ("get", "/console/labels.csv"),
        ("post", "/console/label"),
        ("get", "/console/users"),
    ]:
        assert getattr(client, method)(path).status_code == 401, path


def test_wrong_password_and_forged_cookie_are_refused(client):
    r = client.post("/console/login", data={"name": "anna", "password": "wrong password"})
    assert r.status_code == 401 and "wrong name or password" in r.text
    client.cookies.set("callbot_console", "eyJ1IjogImFkbWluIn0.deadbeef", path="/console")
    assert client.get("/console/").status_code == 401


def test_annotators_cannot_manage_users(client):
    csrf = login(client, "anna")
    assert client.get("/console/users").status_code == 403
    r = client.post(
        "/console/users", data={"csrf": csrf, "name": "eve", "password": PASSWORD, "role": "admin"}
    )
    assert r.status_code == 403


def test_admin_adds_a_user_who_can_then_log_in(client, services):
    csrf = login(client, "admin")
    r = client.post(
        "/console/users", data={"csrf": csrf, "name": "bora", "password": PASSWORD, "role": "annotator"}
    )
    assert r.status_code == 303
    assert "bora" in client.get("/console/users").text
    with services.engine.connect() as db:
        assert db.execute(
            sa.select(audit_table.c.detail).where(audit_table.c.user == "admin")
        ).scalar_one() == ("bora role=annotator")
    client.cookies.clear()
    login(client, "bora")


def test_post_without_the_csrf_token_is_refused(client, services):
    csrf = login(client, "anna")
    r = client.post("/console/label", data={"turn_id": "2", "intent": "cake_order"})
    assert r.status_code == 403
    r = client.post("/console/label", data={"turn_id": "2", "intent": "cake_order", "csrf": csrf + "x"})
    assert r.status_code == 403
    with services.engine.connect() as db:
        assert db.execute(sa.select(sa.func.count()).select_from(labels_table)).scalar_one() == 0


def test_inbox_puts_refused_turns_with_disagreeing_recognizers_first(client):
    login(client, "anna")
    page = client.get("/console/").text
    order = [page.index(t) for t in ("주차 돼요", "주차 되나요 거기", "영업 시간 알려 주세요")]
    assert order == sorted(order)
    assert "recognizers_disagree" in page and "refused" in page
    # Vosk's and Whisper's texts are shown, and which one the turn used.
    assert "Vosk: 주차 돼요" in page and "Whisper: 주차 되요 (used)" in page
    assert "8 turns" in page  # caller turns only: greetings are not reviewed


def test_inbox_filters(client):
    login(client, "anna")
    only = client.get("/console/?outcome=accepted&conf_min=0.9").text
    assert "케이크 예약하고 싶어요" in only and "영업 시간" not in only and "2 turns" in only
    later = client.get("/console/?date_from=2030-01-01").text
    assert "0 turns" in later
    bad = client.get("/console/?conf_min=2&outcome=maybe", headers={"accept": "text/html"})
    assert bad.status_code == 400
    assert "conf_min='2'" in html.unescape(bad.text) and "outcome='maybe'" in html.unescape(bad.text)


def test_inbox_pages_in_sql(client, services):
    services.settings = type(services.settings)(**{**services.settings.__dict__, "page_size": 5})
    login(client, "anna")
    first, second = client.get("/console/").text, client.get("/console/?page=2").text
    assert "page 1 of 2" in first and "page 2 of 2" in second
    assert first.count('<tr class="turn') == 5 and second.count('<tr class="turn') == 3


def test_audio_is_served_as_16_bit_wav(client, services):
    login(client, "anna")
    page = client.get("/console/").text
    assert 'preload="none"' in page
    r = client.get("/console/audio/2.wav")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getsampwidth(), w.getnchannels(), w.getframerate()) == (2, 1, 8000)
        assert w.getnframes() == 4800
    # A turn whose stored path points outside <state_dir>/calls is not served.
    with services.engine.begin() as db:
        db.execute(sa.text("UPDATE turns SET audio_path = '/etc/passwd' WHERE id = 3"))
    assert client.get("/console/audio/3.wav").status_code == 404
    assert client.get("/console/audio/1.wav").status_code == 404  # the greeting has no audio


def test_a_call_page_shows_every_turn(client):
    login(client, "anna")
    page = client.get("/console/calls/CA00000000000000000000000000000000")
    assert page.status_code == 200
    assert "안녕하세요, 밀빛 베이커리입니다." in page.text and "주차 되나요 거기" in page.text
    assert client.get("/console/calls/CAnope", headers={"accept": "text/html"}).status_code == 404


def test_labelling_keeps_who_when_the_model_and_the_original_text(client, services):
    csrf = login(client, "anna")
    r = client.post(
        "/console/label",
        data={"turn_id": "3", "intent": "store_parking", "action": "pick", "csrf": csrf},
    )
    assert r.status_code == 200, r.text
    # An edited transcript is stored PII-masked, beside what the call log had.
    r = client.post(
        "/console/label",
        headers={"x-csrf-token": csrf},
        data={
            "turn_id": "3",
            "intent": "store_parking",
            "action": "edit",
            "text": "주차 되나요 010-9876-5432",
        },
    )
    assert r.status_code == 200
    with services.engine.connect() as db:
        rows = db.execute(sa.select(labels_table).order_by(labels_table.c.id)).mappings().all()
    assert [r["current"] for r in rows] == [False, True]
    last = rows[-1]
    assert (last["user"], last["intent"], last["domain"], last["model_intent"], last["model_version"]) == (
        "anna",
        "store_parking",
        "store",
        "store_parking",
        "v1",
    )
    assert last["text"] == "주차 되나요 <PHONE>" and last["original_text"] == "주차 돼요"
    # Labelled turns leave the default inbox and show under "labelled".
    assert 'data-turn-id="3"' not in client.get("/console/").text
    labelled = client.get("/console/?status=labelled").text
    assert 'data-turn-id="3"' in labelled and "1 turns" in labelled


def test_bad_labels_are_refused_with_a_reason(client):
    csrf = login(client, "anna")
    r = client.post("/console/label", data={"turn_id": "3", "intent": "pizza_order", "csrf": csrf})
    assert r.status_code == 400 and "unknown intent 'pizza_order'" in r.json()["error"]
    r = client.post("/console/label", data={"turn_id": "999", "intent": "cake_order", "csrf": csrf})
    assert r.status_code == 400 and "no turn 999" in r.json()["error"]


def test_apply_to_similar_labels_the_near_duplicate_cluster(client, services):
    csrf = login(client, "anna")
    found = client.get("/console/similar/3").json()  # 주차 돼요
    texts = [t["text"] for t in found["turns"]]
    assert found["count"] == len(texts) >= 2
    assert texts[0] == "주차 돼요" and "케이크 예약하고 싶어요" not in texts
    ids = ",".join(str(t["id"]) for t in found["turns"])
    r = client.post(
        "/console/label", data={"turn_ids": ids, "intent": "store_parking", "action": "similar", "csrf": csrf}
    )
    assert len(r.json()["labels"]) == found["count"]
    csv_text = client.get("/console/labels.csv").text
    assert csv_text.splitlines()[0].startswith("label_id,call_sid,turn,text,intent")
    assert csv_text.count("store_parking") >= found["count"]


def test_audio_with_personal_data_is_only_for_admins_who_unmask_it(client, services):
    with services.engine.begin() as db:
        db.execute(sa.text("UPDATE turns SET pii = 'PHONE:1' WHERE id = 2"))
    login(client, "anna")
    page = client.get("/console/?status=all").text
    assert "audio withheld: personal data (PHONE:1)" in page and 'src="/console/audio/2.wav' not in page
    assert client.get("/console/audio/2.wav?unmask=1").status_code == 403
    client.cookies.clear()
    login(client, "admin")
    assert 'src="/console/audio/2.wav?unmask=1"' in client.get("/console/?status=all").text
    assert client.get("/console/audio/2.wav").status_code == 403  # not without asking
    with services.engine.connect() as db:
        assert (
            db.execute(
                sa.select(sa.func.count())
                .select_from(audit_table)
                .where(audit_table.c.what == "unmask.audio")
            ).scalar_one()
            == 0
        )
    assert client.get("/console/audio/2.wav?unmask=1").status_code == 200
    with services.engine.connect() as db:
        logged = db.execute(
            sa.select(audit_table.c.user, audit_table.c.detail).where(audit_table.c.what == "unmask.audio")
        ).all()
    assert [tuple(r) for r in logged] == [("admin", "turn=2 call=CA00000000000000000000000000000000")]


def test_filters_can_be_saved_per_user(client):
    csrf = login(client, "anna")
    query = "outcome=refused&conf_max=0.5&status=unlabelled&page=1"
    assert client.post("/console/filters", data={"name": "refused", "query": query}).status_code == 403
    r = client.post("/console/filters", data={"name": "  refused  ", "query": query, "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/console/?{query}"
    page = client.get("/console/").text
    assert f'<a href="/console/?{query.replace("&", "&amp;")}">refused</a>' in page
    bad = client.post("/console/filters", data={"name": "x", "query": "conf_max=9", "csrf": csrf})
    assert bad.status_code == 400 and "conf_max='9'" in bad.json()["error"]
    client.cookies.clear()
    login(client, "admin")
    assert ">refused</a>" not in client.get("/console/").text
