"""Held-out parses kept beside the archives (bot.nlu.heldout): calibration from them is the calibration
from loaded models, and a retrain reuses the unchanged models' parses instead of loading them."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import BotSettings
from bot.evaluate import calibrate_on_file, calibrate_on_parses, read_labelled
from bot.models import current_model_set
from bot.nlu import heldout
from bot.nlu.decision import Thresholds
from bot.nlu.parser import NluModels
from bot.train import train
from tests.bot.test_train_fixtures import DOMAINS, copy_trained, tiny_config, trained_nlu  # noqa: F401

NAMES = ["router", "menu", "reservation"]


def _stored(model_set) -> dict[str, list[dict]]:
    held_out = model_set.directory.parent.parent / "build" / "test.csv"
    out = {}
    for name, archive in model_set.paths.items():
        rows = heldout.load(heldout.parses_path(archive), heldout.Keys.of(held_out, archive))
        assert rows is not None, f"{name}: no valid stored parses"
        out[name] = rows
    return out


def _base(root: Path) -> Thresholds:
    settings = BotSettings.from_config(tiny_config(root))
    return Thresholds(
        router=settings.default_router_threshold,
        domain_default=settings.default_domain_threshold,
        out_of_scope_intents=settings.out_of_scope_intents,
    )


def test_calibration_from_stored_parses_is_the_calibration_from_loaded_models(trained_nlu) -> None:  # noqa: F811
    root, _ = trained_nlu
    model_set = current_model_set(root / "models")
    held_out = root / "build" / "test.csv"
    texts = [item.text for item in read_labelled(held_out)]
    stored = _stored(model_set)
    no_rejection = Thresholds(router=0.0, domain_default=0.0, out_of_scope_intents=("out_of_scope",))

    models = NluModels.load_paths(model_set.paths, no_rejection)
    live = asyncio.run(models.parse_many(texts))
    assembled = heldout.results_from_parses(texts, stored, no_rejection)
    assert [r.domain for r in live] == [r.domain for r in assembled]  # router + routed domain parses
    assert [r.router for r in live] == [r.router for r in assembled]
    assert [r.decision for r in live] == [r.decision for r in assembled]
    assert {r.decision.domain for r in live} == {"menu", "reservation"}

    # the whole calibration: the same thresholds, drift readings, and the manifest's thresholds
    base = _base(root)
    readings_live: list = []
    readings_stored: list = []
    th_live = asyncio.run(calibrate_on_file(model_set.paths, held_out, base, 0.9, 0.1, readings_live))
    th_stored = calibrate_on_parses(stored, held_out, base, 0.9, 0.1, readings_stored)
    assert th_stored == th_live and readings_stored == readings_live
    settings = BotSettings.from_config(tiny_config(root))
    th_manifest = asyncio.run(
        calibrate_on_file(
            model_set.paths, held_out, base, settings.min_in_scope_recall, settings.out_of_scope_share
        )
    )
    assert model_set.thresholds == th_manifest.to_manifest()

    # more texts than the held-out split, in batches of 7: each model's parse of all texts, assembled,
    # is what parse_many makes routing each text to one domain
    more = (
        texts + [t for intents in DOMAINS.values() for ts in intents.values() for t in ts] + ["짜장면 예약"]
    )
    per_model = {"router": heldout.parse_all(models.router, more, batch_size=7)}
    per_model |= {
        name: heldout.parse_all(agent, more, batch_size=7) for name, agent in models.domains.items()
    }
    expected = asyncio.run(models.parse_many(more))
    got = heldout.results_from_parses(more, per_model, no_rejection)
    assert [(r.router, r.domain, r.decision) for r in got] == [
        (r.router, r.domain, r.decision) for r in expected
    ]


def test_stored_parses_are_only_read_for_their_keys(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    model_set = current_model_set(trained_nlu[0] / "models")
    archive = model_set.paths["menu"]
    held_out = trained_nlu[0] / "build" / "test.csv"
    keys = heldout.Keys.of(held_out, archive)
    path = heldout.parses_path(archive)
    assert path.name == "menu.heldout.json.gz" and heldout.load(path, keys) is not None
    changed = tmp_path / "test.csv"
    changed.write_text(held_out.read_text(encoding="utf-8") + "짜장면 예약,menu_price,menu,real\n")
    assert heldout.load(path, heldout.Keys.of(changed, archive)) is None
    assert heldout.load(path, replace(keys, archive="0" * 64)) is None
    assert heldout.load(tmp_path / "none.heldout.json.gz", keys) is None
    broken = tmp_path / "broken.heldout.json.gz"
    broken.write_bytes(b"not gzip")
    assert heldout.load(broken, keys) is None


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Archive names loaded for held-out parsing; NluModels.load_paths (the old calibration) fails."""
    loaded: list[str] = []
    real = heldout.load_agent

    def counting(path: Path, **kwargs: object) -> object:
        loaded.append(path.name)
        return real(path, **kwargs)

    def no_load_paths(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("calibration loaded every model")

    monkeypatch.setattr(heldout, "load_agent", counting)
    monkeypatch.setattr(NluModels, "load_paths", no_load_paths)
    return loaded


def test_one_domain_retrain_reuses_the_other_models_parses(
    trained_nlu,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    before = current_model_set(root / "models")
    loaded = _count_loads(monkeypatch)
    lines: list[str] = []
    report = train(
        tiny_config(root, train_workers=1),
        only=["menu"],
        force=True,
        progress=lambda name, msg: lines.append(f"{name}: {msg}"),
    )
    assert {m.name: m.status for m in report.models} == {
        "router": "unchanged",
        "menu": "trained",
        "reservation": "unchanged",
    }
    assert loaded == ["menu.tar.gz"]  # the retrained model, once, right after its training
    assert any(line.startswith("menu: parsed 6 held-out texts in ") for line in lines)
    after = current_model_set(root / "models")
    for name in ("router", "reservation"):
        old, new = heldout.parses_path(before.paths[name]), heldout.parses_path(after.paths[name])
        assert os.stat(new).st_ino == os.stat(old).st_ino  # the previous version's file, hard-linked
    assert heldout.parses_path(after.paths["menu"]).is_file()
    assert _stored(after).keys() == set(NAMES)


@pytest.mark.slow
def test_a_changed_held_out_split_parses_every_model_again(
    trained_nlu,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    before = current_model_set(root / "models")
    test_csv = root / "build" / "test.csv"
    test_csv.write_text(
        test_csv.read_text(encoding="utf-8") + "짜장면 예약할게요,reservation_book,reservation,real\n"
    )
    loaded = _count_loads(monkeypatch)
    lines: list[str] = []
    train(
        tiny_config(root, train_workers=1),
        only=["menu"],
        force=True,
        progress=lambda name, msg: lines.append(f"{name}: {msg}"),
    )
    assert sorted(loaded) == sorted(f"{name}.tar.gz" for name in NAMES)  # each archive loaded once
    assert sum("no valid stored parses: parsed 7 held-out texts" in line for line in lines) == 2
    after = current_model_set(root / "models")
    for name in ("router", "reservation"):
        old, new = heldout.parses_path(before.paths[name]), heldout.parses_path(after.paths[name])
        assert os.stat(new).st_ino != os.stat(old).st_ino
        assert heldout.load(old, heldout.Keys.of(test_csv, before.paths[name])) is None  # kept as it was
    assert all(len(rows) == 7 for rows in _stored(after).values())
