import csv
import json

import pytest
import yaml

from data.build import build
from data.errors import DataError


def read_csv(path):
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def nlu_intents(path):
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {item["intent"]: [line[2:] for line in item["examples"].splitlines()] for item in content["nlu"]}


def test_end_to_end_build(company):
    settings = company()
    report = build(settings)
    out = settings.build_dir

    examples = read_csv(out / "examples.csv")
    texts = {e["text"]: e for e in examples}
    # Customer turns only; agent turns never become examples.
    assert "네 예약 도와드릴게요" not in texts
    # PII masked before anything is written, in every output file.
    assert texts["생일 케이크 예약하려고요 제 번호는 <PHONE>이에요"]["intent"] == "cake_order"
    assert texts["카드 <CARD> 로 결제한 주문 취소해 주세요"]["source"] == "logs.csv: row 12"
    for path in out.rglob("*"):
        if path.is_file():
            body = path.read_text(encoding="utf-8")
            assert "010-1234-5678" not in body and "1234-5678-9012-3456" not in body, path
    assert report.pii_masked == {"CARD": 1, "PHONE": 1}
    # The unlabelled turn close to a QnA question got its intent; the unrelated one went to review.
    assert texts["아침 몇 시에 문 여시나요"]["intent"] == "store_hours"
    assert report.auto_labelled == 1
    review = read_csv(out / "review.csv")
    assert [r["text"] for r in review] == ["고양이가 밥을 안 먹어요"]
    assert review[0]["source"] == "logs.csv: row 8" and review[0]["speaker"] == "customer"
    # Every bad row is accounted for, by reason, with file and row.
    assert report.dropped["unknown_domain"] == 1
    assert report.dropped["empty"] == 1
    assert report.dropped["unknown_speaker"] == 1
    assert report.dropped["malformed"] == 1
    assert report.dropped["duplicate"] >= 2
    messages = [p["message"] for p in report.problems]
    assert any("qna.csv: row 22" in m and "unknown domain 'galaxy'" in m for m in messages)
    assert any("logs.csv: row 10" in m and "unknown speaker 'bystander'" in m for m in messages)
    # Held-out split: 25% of an intent with 4+ real examples.
    assert report.intents["cake_order"]["real_test"] == 1
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["review"] == 1


def test_rasa_projects(company):
    settings = company()
    build(settings)
    rasa = settings.build_dir / "rasa"
    assert sorted(p.name for p in rasa.iterdir()) == ["common", "order", "router", "store"]
    order = yaml.safe_load((rasa / "order" / "domain.yml").read_text(encoding="utf-8"))
    # Each domain also knows the common intents, so a sticky dialogue understands "네".
    assert order["intents"] == [
        "cake_order",
        "common_affirm",
        "common_greet",
        "common_out_of_scope",
        "order_cancel",
    ]
    assert order["responses"]["utter_cake_order"] == [{"text": "케이크 예약은 3일 전까지 가능합니다."}]
    rules = yaml.safe_load((rasa / "order" / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    assert {
        "rule": "answer order_cancel",
        "steps": [{"intent": "order_cancel"}, {"action": "utter_order_cancel"}],
    } in rules
    router = nlu_intents(rasa / "router" / "data" / "nlu.yml")
    assert sorted(router) == ["common", "order", "store"]
    assert "영업시간이 어떻게 되나요" in router["store"] or "영업시간이 어떻게 되나요" in {
        e["text"] for e in read_csv(settings.build_dir / "test.csv")
    }
    # Test-split examples never reach training files.
    train_texts = {t for texts in router.values() for t in texts}
    assert not train_texts & {e["text"] for e in read_csv(settings.build_dir / "test.csv")}


def test_projects_load_in_rasa(company):
    from rasa.shared.core.domain import Domain
    from rasa.shared.nlu.training_data.loading import load_data

    settings = company()
    build(settings)
    project = settings.build_dir / "rasa" / "store"
    domain = Domain.load(project / "domain.yml")
    assert "utter_store_hours" in domain.responses
    data = load_data(str(project / "data" / "nlu.yml"))
    assert "store_hours" in data.intents and data.entity_examples == []


def test_overlay_is_merged_and_its_rules_win(company, tmp_path):
    overlay = tmp_path / "overlay" / "order"
    overlay.mkdir(parents=True)
    (overlay / "domain.yml").write_text(
        "slots:\n  pickup_date:\n    type: text\n    mappings:\n    - type: from_text\n"
        "responses:\n  utter_ask_pickup_date:\n  - text: 언제 찾으러 오시나요?\n",
        encoding="utf-8",
    )
    (overlay / "rules.yml").write_text(
        'version: "3.1"\nrules:\n- rule: order\n  steps:\n  - intent: cake_order\n  - action: utter_ask_pickup_date\n',
        encoding="utf-8",
    )
    settings = company()
    build(settings)
    project = settings.build_dir / "rasa" / "order"
    domain = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))
    assert "pickup_date" in domain["slots"]
    assert "utter_ask_pickup_date" in domain["responses"] and "utter_cake_order" in domain["responses"]
    assert (project / "data" / "overlay_rules.yml").exists()
    rules = yaml.safe_load((project / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    assert all(r["steps"][0]["intent"] != "cake_order" for r in rules)


def test_without_intent_column_questions_sharing_an_answer_form_one_intent(company, tmp_path):
    from tests.data.conftest import write_csv

    qna = write_csv(
        tmp_path / "plain.csv",
        [
            ("question", "answer", "domain"),
            ("주차 돼요?", "건물 지하에 2시간 무료 주차가 됩니다.", "store"),
            ("차 가져가도 되나요", "건물 지하에 2시간 무료 주차가 됩니다.", "store"),
            ("화장실 어디예요", "화장실은 2층에 있습니다.", "store"),
        ],
    )
    settings = company(qna=[str(qna)], chat_logs=[])
    build(settings)
    intents = nlu_intents(settings.build_dir / "rasa" / "store" / "data" / "nlu.yml")
    assert intents == {
        "faq_건물_지하에_2시간": ["주차 돼요?", "차 가져가도 되나요"],
        "faq_화장실은_2층에_있습니다": ["화장실 어디예요"],
    }


def test_failed_build_leaves_previous_output_intact(company, tmp_path):
    settings = company()
    build(settings)
    before = (settings.build_dir / "examples.csv").read_text(encoding="utf-8")
    broken = tmp_path / "broken.csv"
    broken.write_text("질문,비고\n주차 돼요?,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="broken.csv: missing column answer"):
        build(company(qna=[str(broken)]))
    assert (settings.build_dir / "examples.csv").read_text(encoding="utf-8") == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build")]


def test_cp949_and_nfd_inputs_build_the_same(company, tmp_path):
    import unicodedata

    from tests.data.conftest import QNA_ROWS, write_csv

    rows = [
        tuple(unicodedata.normalize("NFD", c) if i == 0 else c for i, c in enumerate(r)) for r in QNA_ROWS
    ]
    nfd = write_csv(tmp_path / "nfd.csv", rows)
    cp949 = write_csv(tmp_path / "cp949.csv", QNA_ROWS, encoding="cp949")
    build(company(qna=[str(nfd)], chat_logs=[]))
    a = (tmp_path / "build" / "examples.csv").read_text(encoding="utf-8")
    build(company(qna=[str(cp949)], chat_logs=[]))
    b = (tmp_path / "build" / "examples.csv").read_text(encoding="utf-8")
    assert a.replace("nfd.csv", "x") == b.replace("cp949.csv", "x")


def test_config_errors_name_every_bad_key(tmp_path):
    from callbot.config import ConfigError, load_config
    from data.settings import DataSettings

    cfg = tmp_path / "callbot.yml"
    cfg.write_text(
        "data:\n  label_threshold: 2\n  domains: [a, b]\n  common_domain: c\n  augment: {casual: yes-please}\n  colour: red\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        DataSettings.from_config(load_config(cfg))
    text = str(err.value)
    assert str(cfg) in text
    for key in (
        "data.label_threshold: must be <= 1.0",
        "data.common_domain",
        "data.augment.casual",
        "data.colour",
    ):
        assert key in text


def test_learned_recognition_errors_become_capped_variants_with_provenance(company):
    settings = company(augment={"casual": False, "clipped": False, "asr": False, "asr_learned_per_real": 0.5})
    report = build(settings)
    examples = read_csv(settings.build_dir / "examples.csv")
    learned = [e for e in examples if e["kind"] == "asr_learned"]
    real = [e for e in examples if e["kind"] == "real"]
    assert learned and {e["source"] for e in learned} <= {e["source"] for e in real}  # each names its row
    for intent in {e["intent"] for e in learned}:  # at most half a variant per real example of the intent
        for split in ("train", "test"):
            n_real = sum(1 for e in real if e["intent"] == intent and e["split"] == split)
            assert sum(1 for e in learned if e["intent"] == intent and e["split"] == split) <= int(
                n_real * 0.5
            )
    assert report.asr_errors["clips"] > 50 and "whisper-base-phone.json" in report.asr_errors["file"]
    off = company(augment={"casual": False, "clipped": False, "asr": False, "asr_errors": None})
    assert not [
        e for e in (build(off) and read_csv(off.build_dir / "examples.csv")) if e["kind"] == "asr_learned"
    ]


def test_out_of_scope_examples_sharing_a_business_word_are_listed(company, tmp_path):
    from tests.data.conftest import QNA_ROWS, write_csv

    chit_chat = ("케이크 만드는 학원 추천해 주세요", "죄송합니다.", "common_out_of_scope", "common")
    qna = write_csv(tmp_path / "qna_more.csv", [*QNA_ROWS[:-2], chit_chat])
    settings = company(qna=[str(qna)])
    report = build(settings)

    rows = read_csv(settings.build_dir / "out_of_scope_overlap.csv")
    # 케이크 is one of cake_order's most telling words; the weather and the stock tip share none.
    assert [(r["text"], r["words"]) for r in rows] == [("케이크 만드는 학원 추천해 주세요", "케이크")]
    assert "cake_order" in rows[0]["business_intents"] and rows[0]["kind"] == "real"
    assert report.out_of_scope_overlap["examples"] == 1 and report.out_of_scope_overlap["top_words"] == {
        "케이크": 1
    }
