"""`callbot train`: real Rasa training on tiny projects, incremental retraining, atomic switching."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.config import BotSettings
from bot.models import ModelNotFoundError, current_model_set, read_current_version, switch_current
from bot.pipeline import KIWI_TOKENIZER, pipeline_config
from bot.train import TrainingError, run_post_train_hooks, train
from callbot.config import Config, ConfigError
from tests.bot.test_train_fixtures import copy_trained, tiny_config, trained_nlu  # noqa: F401 (fixture)

NAMES = ["router", "menu", "reservation"]


def _messages() -> tuple[list[str], object]:
    lines: list[str] = []
    return lines, lambda name, message: lines.append(f"{name}: {message}")


def test_first_training_writes_a_complete_current_version(trained_nlu) -> None:  # noqa: F811
    root, _ = trained_nlu
    model_set = current_model_set(root / "models")
    assert sorted(model_set.paths) == sorted(NAMES)
    manifest = json.loads((model_set.directory / "manifest.json").read_text())
    assert manifest["tokenizer"] == "kiwi"
    assert manifest["rasa_version"].startswith("3.6")
    assert set(manifest["models"]) == set(NAMES)
    assert all(len(m["fingerprint"]) == 16 for m in manifest["models"].values())
    th = manifest["thresholds"]
    assert 0.0 < th["router"] <= 0.95 and 0.0 < th["domain_default"] <= 0.95
    assert th["out_of_scope_intents"] == ["out_of_scope"]
    assert not [p for p in (root / "models").iterdir() if p.name.startswith(".tmp-")]
    # the drift reference: the held-out split as these models read it, under the chosen thresholds
    from bot.evaluate import read_labelled
    from drift.reference import OOS, Reference

    held_out = read_labelled(root / "build" / "test.csv")
    reference = Reference.load(model_set.directory / "drift_reference.json")
    assert reference.version == model_set.version and len(reference.true) == len(held_out)
    in_scope = {i.intent for i in held_out if not i.intent.endswith(OOS)}
    assert OOS in reference.labels and in_scope <= set(reference.labels)
    assert 0.5 < (reference.true == reference.predicted).mean() <= 1.0


def test_second_run_skips_unchanged_models_and_says_so(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    before = read_current_version(root / "models")
    lines, say = _messages()
    report = train(tiny_config(root), progress=say)
    assert not report.created
    assert report.version == before == read_current_version(root / "models")
    assert [m.status for m in report.models] == ["unchanged"] * 3
    assert any("menu: unchanged" in line for line in lines)
    assert any("nothing changed" in line for line in lines)


def test_changing_one_domain_retrains_only_it(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    before = current_model_set(root / "models")
    nlu = root / "build" / "rasa" / "menu" / "data" / "nlu.yml"
    nlu.write_text(
        nlu.read_text(encoding="utf-8").replace("- 뭐 먹을까요\n", "- 뭐 먹지\n"), encoding="utf-8"
    )
    report = train(tiny_config(root, calibrate=False))  # calibration is covered by the first training
    status = {m.name: m.status for m in report.models}
    assert status == {"router": "unchanged", "menu": "trained", "reservation": "unchanged"}
    after = current_model_set(root / "models")
    assert after.version == report.version != before.version
    # Reused archives are the previous files, hard-linked.
    assert os.stat(after.paths["router"]).st_ino == os.stat(before.paths["router"]).st_ino
    assert os.stat(after.paths["menu"]).st_ino != os.stat(before.paths["menu"]).st_ino
    assert after.manifest["models"]["router"]["from_version"] == before.version
    assert not list(after.directory.glob("*.heldout.json.gz"))  # no calibration: no held-out parses


def test_a_new_version_is_published_to_the_model_store(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    from bot.model_store import FolderStore

    root = copy_trained(trained_nlu[0], tmp_path / "root")
    nlu = root / "build" / "rasa" / "menu" / "data" / "nlu.yml"
    nlu.write_text(
        nlu.read_text(encoding="utf-8").replace("- 뭐 먹을까요\n", "- 뭐 먹지\n"), encoding="utf-8"
    )
    config = tiny_config(root, calibrate=False)
    config = Config(path=config.path, raw={**config.raw, "models": {"store": "store"}})
    lines, say = _messages()
    report = train(config, progress=say, activate=False)  # a candidate, as the console trains it
    store = FolderStore(root / "store")
    assert store.versions() == [report.version] and store.current() is None  # published, not promoted
    assert any(f"published {report.version} to the model store" in line for line in lines)
    fetched = store.fetch(report.version, tmp_path / "replica")
    assert sorted(p.name for p in fetched.iterdir()) == sorted(p.name for p in report.directory.iterdir())
    assert current_model_set(root / "models").version != report.version


def test_failed_training_leaves_the_previous_version_current(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    before = read_current_version(root / "models")
    (root / "build" / "rasa" / "reservation" / "domain.yml").write_text("intents: [oops\n", encoding="utf-8")
    with pytest.raises(TrainingError, match="reservation"):
        train(tiny_config(root))
    assert read_current_version(root / "models") == before
    assert sorted(p.name for p in (root / "models").iterdir()) == sorted([before, "current"])


def test_unknown_model_name_and_missing_build_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="callbot data build"):
        train(tiny_config(tmp_path))


def test_no_models_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="run `callbot train`"):
        current_model_set(tmp_path / "models")


def test_switch_current_refuses_incomplete_versions(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    with pytest.raises(ModelNotFoundError):
        switch_current(tmp_path, "v1")
    (tmp_path / "v1" / "manifest.json").write_text("{}")
    switch_current(tmp_path, "v1")
    assert read_current_version(tmp_path) == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "v1"]


def test_post_train_hooks_report_missing_and_failing_hooks(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, post_train=["no_such_module:hook", "json:loads", "builtins:slice"])
    settings = BotSettings.from_config(config)
    lines, say = _messages()
    results = run_post_train_hooks(config, settings, tmp_path, say)
    assert [(r.name, r.ok) for r in results] == [
        ("no_such_module:hook", False),
        ("json:loads", False),
        ("builtins:slice", True),
    ]
    assert "not available" in results[0].message and "failed" in results[1].message


def test_settings_report_every_bad_key(tmp_path: Path) -> None:
    config = Config(
        tmp_path / "callbot.yml", {"bot": {"tokenizer": "mecab", "epochs": 0, "char_ngrams": [3, 1]}}
    )
    with pytest.raises(ConfigError) as err:
        BotSettings.from_config(config)
    text = str(err.value)
    assert "bot.tokenizer" in text and "bot.epochs" in text and "bot.char_ngrams" in text


@pytest.mark.parametrize(
    ("tokenizer", "name"), [("kiwi", KIWI_TOKENIZER), ("whitespace", "WhitespaceTokenizer")]
)
def test_pipeline_config_follows_settings(tokenizer: str, name: str) -> None:
    settings = BotSettings(tokenizer=tokenizer, epochs=7, random_seed=3)
    domain = pipeline_config(settings, router=False)
    assert domain["pipeline"][0]["name"] == name
    diet = next(c for c in domain["pipeline"] if c["name"] == "DIETClassifier")
    assert (diet["name"], diet["epochs"], diet["random_seed"]) == ("DIETClassifier", 7, 3)
    assert [p["name"] for p in domain["policies"]] == ["MemoizationPolicy", "RulePolicy"]
    assert "policies" not in pipeline_config(settings, router=True)


def test_interrupted_training_leaves_no_partial_version(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    before = read_current_version(root / "models")

    def interrupt_on_training(name: str, message: str) -> None:
        if message == "training":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(root), force=True, progress=interrupt_on_training)
    assert read_current_version(root / "models") == before
    assert sorted(p.name for p in (root / "models").iterdir()) == sorted([before, "current"])


def record_hook(config: Config, build_dir: Path, version_dir: Path) -> None:
    """A post-train hook for the test below: leaves a file in the version it was given."""
    (version_dir / "hook.txt").write_text(version_dir.name, encoding="utf-8")


def test_two_models_train_in_workers_with_the_hooks_in_the_new_version(trained_nlu, tmp_path: Path) -> None:  # noqa: F811
    root = copy_trained(trained_nlu[0], tmp_path / "root")
    before = current_model_set(root / "models")
    lines, say = _messages()
    config = tiny_config(
        root, calibrate=False, post_train=["tests.bot.test_train:record_hook"], train_workers=2
    )
    report = train(config, only=["menu", "reservation"], force=True, progress=say)
    status = {m.name: m.status for m in report.models}
    assert status == {"router": "unchanged", "menu": "trained", "reservation": "trained"}
    assert any("2 at a time" in line for line in lines)
    after = current_model_set(root / "models")
    assert after.version == report.version != before.version
    # the hook ran while the models trained, into the version before it became current
    assert [(h.name, h.ok) for h in report.hooks] == [("tests.bot.test_train:record_hook", True)]
    assert (after.directory / "hook.txt").read_text(encoding="utf-8").endswith(report.version)
    for name in ("menu", "reservation"):
        assert os.stat(after.paths[name]).st_ino != os.stat(before.paths[name]).st_ino
    # the vocabulary step ran here as soon as one worker had nothing left, while the other still trained
    trained = [i for i, line in enumerate(lines) if "trained in" in line]
    vocabulary = [i for i, line in enumerate(lines) if "vocabulary" in line]
    assert len(trained) == 2 and len(vocabulary) == 1
    assert trained[0] < vocabulary[0] < trained[1]
