"""The `stt.domain_lm` section and the configured build that `callbot train` calls."""

from __future__ import annotations

import pytest

from callbot.config import Config, ConfigError
from stt.lm.errors import LmError
from stt.lm.model_path import find_bundled_model
from stt.lm.settings import DomainLmSettings, build_configured, read_domain_lm_settings, read_text_file


def _config(tmp_path, stt):
    return Config(path=tmp_path / "callbot.yml", raw={"stt": stt})


def test_defaults_without_section(tmp_path):
    assert read_domain_lm_settings(_config(tmp_path, {})) == DomainLmSettings()


def test_reads_values_and_resolves_text_files(tmp_path):
    (tmp_path / "form.txt").write_text("내일 저녁 7시\n# comment\n\n5명이요\n", encoding="utf-8")
    s = read_domain_lm_settings(
        _config(
            tmp_path,
            {
                "domain_lm": {
                    "general_weight": 0.1,
                    "general_words": 500,
                    "order": 2,
                    "static_graph": False,
                    "named": {"reservation_form": ["form.txt"]},
                }
            },
        )
    )
    assert (s.general_weight, s.general_words, s.order, s.enabled) == (0.1, 500, 2, True)
    assert s.static_graph is False and DomainLmSettings().static_graph is True
    assert s.named == {"reservation_form": (tmp_path / "form.txt",)}
    assert read_text_file(tmp_path / "form.txt") == ["내일 저녁 7시", "5명이요"]


def test_every_bad_key_is_reported_at_once(tmp_path):
    stt = {
        "domain_lm": {
            "general_weight": 1.5,
            "general_words": -1,
            "order": "three",
            "static_graph": "sometimes",
            "colour": "blue",
            "named": {"domain": ["x.txt"], "form": ["missing.txt"]},
        }
    }
    with pytest.raises(ConfigError) as err:
        read_domain_lm_settings(_config(tmp_path, stt))
    message = str(err.value)
    for key in (
        "general_weight",
        "general_words",
        "order",
        "static_graph",
        "domain_lm.colour",
        "named.domain",
        "named.form",
        "callbot.yml",
    ):
        assert key in message


def test_configured_build(tmp_path):
    csv_path = tmp_path / "examples.csv"
    csv_path.write_text("text,intent,domain,kind,source,split\n주차는 돼요,parking,store,real,qna,train\n")
    form = tmp_path / "form.txt"
    form.write_text("내일 저녁 7시\n5명이요\n", encoding="utf-8")
    base = find_bundled_model()
    assert build_configured(DomainLmSettings(enabled=False), csv_path, base, tmp_path / "lm") == {}
    assert not (tmp_path / "lm").exists()

    settings = DomainLmSettings(named={"form": (form,)}, static_graph=False)
    reports = build_configured(settings, csv_path, base, tmp_path / "lm")
    assert set(reports) == {"domain", "form"}
    assert {r.graph_note for r in reports.values()} == {"static_graph is off"}
    assert (reports["domain"].sentences, reports["form"].sentences) == (1, 2)
    assert (tmp_path / "lm" / "form" / "graph" / "Gr.fst").is_file()

    with pytest.raises(LmError, match="no example texts"):
        build_configured(DomainLmSettings(splits=("dev",)), csv_path, base, tmp_path / "lm")
