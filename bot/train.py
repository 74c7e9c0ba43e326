"""`callbot train`: train the router and the changed domains into a new model version.

Each project under `build/rasa/` gets a fingerprint (its files + the generated config.yml + component
versions). A model whose fingerprint matches the current version's is not retrained: its archive is
hard-linked into the new version, with its parses of the held-out split (bot.nlu.heldout; a trained
model's are made by its worker), so calibration loads no model. Everything is written into
`models/.tmp-<version>/` and renamed when complete, then `models/current` is switched atomically; a
failure or Ctrl-C removes the temp folder and leaves `current` as it was.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import models as store
from bot.config import BotSettings
from bot.models import ROUTER, TMP_PREFIX
from bot.nlu.decision import Thresholds
from bot.nlu.heldout import parses_path
from bot.pipeline import write_pipeline_config
from bot.train_jobs import Job, ProgressFn, TrainingError, train_jobs
from callbot.config import Config

logger = logging.getLogger(__name__)

# Known post-training hooks by name -> "module:function(config, build_dir, version_dir)".
# `bot.post_train` may also name any "module:function" directly.
POST_TRAIN_HOOKS: dict[str, str] = {
    "stt_lm": "stt.lm.build:post_train",
    "tts_cache": "telephony.tts_cache:build_cache",
}


@dataclass(frozen=True)
class ModelResult:
    name: str
    status: str  # "trained" | "unchanged"
    seconds: float
    fingerprint: str
    from_version: str | None = None


@dataclass(frozen=True)
class HookResult:
    name: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class TrainReport:
    version: str
    directory: Path
    models: list[ModelResult]
    thresholds: dict[str, Any]
    created: bool
    hooks: list[HookResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "directory": str(self.directory),
            "created": self.created,
            "models": [m.__dict__ for m in self.models],
            "thresholds": self.thresholds,
            "hooks": [h.__dict__ for h in self.hooks],
        }


def discover_projects(build_dir: Path) -> dict[str, Path]:
    """`{"router": build/rasa/router, domain: build/rasa/<domain>}` with checks on what each needs."""
    rasa_dir = build_dir / "rasa"
    if not rasa_dir.is_dir():
        raise TrainingError(f"{rasa_dir}: no training data; run `callbot data build` first")
    projects = {p.name: p for p in sorted(rasa_dir.iterdir()) if p.is_dir()}
    if ROUTER not in projects or not (projects[ROUTER] / "data" / "nlu.yml").is_file():
        raise TrainingError(f"{rasa_dir / ROUTER / 'data' / 'nlu.yml'}: missing; run `callbot data build`")
    for name, path in projects.items():
        if name != ROUTER and not (path / "domain.yml").is_file():
            raise TrainingError(f"{path / 'domain.yml'}: missing; run `callbot data build`")
    if len(projects) < 2:
        raise TrainingError(f"{rasa_dir}: no domain projects besides the router")
    return {ROUTER: projects.pop(ROUTER), **projects}


def fingerprint(project: Path, config_file: Path, settings: BotSettings) -> str:
    """Hash of the project's files, the pipeline config and the versions of the components."""
    import kiwipiepy
    import rasa

    h = hashlib.sha256()
    for part in (f"rasa={rasa.__version__}", f"kiwipiepy={kiwipiepy.__version__}", settings.tokenizer):
        h.update(part.encode() + b"\0")
    if settings.tokenizer == "kiwi":
        h.update(Path(__file__).with_name("nlu").joinpath("kiwi_tokenizer.py").read_bytes())
    h.update(config_file.read_bytes())
    for f in sorted(p for p in project.rglob("*") if p.is_file()):
        h.update(f.relative_to(project).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def train(
    config: Config,
    settings: BotSettings | None = None,
    *,
    only: list[str] | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    activate: bool = True,
) -> TrainReport:
    """Train changed models (or `only` those, or all with `force`) into a new version and switch to it;
    with `activate=False` the new version is a candidate: `models/current` stays (the console compares
    and promotes it)."""
    settings = settings or BotSettings.from_config(config)
    say = progress or (lambda name, msg: logger.info("bot.train %s %s", name, msg))
    projects = discover_projects(settings.build_dir)
    unknown = sorted(set(only or []) - set(projects))
    if unknown:
        raise TrainingError(f"unknown model name(s) {', '.join(unknown)}; known: {', '.join(projects)}")
    models_dir = settings.models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(models_dir)
    previous = _previous_manifest(models_dir)
    version = store.new_version_name()
    tmp = models_dir / f"{TMP_PREFIX}{version}"
    (tmp / "configs").mkdir(parents=True)
    hooks: list[HookResult] | None = None

    def hooks_into_new_version() -> None:
        # The hooks read the build, not the models: they run while the workers train.
        nonlocal hooks
        hooks = run_post_train_hooks(config, settings, tmp, say)

    vocabulary_written = False

    def vocabulary_into_new_version() -> None:
        # Neither does the vocabulary: it runs on the core the first idle worker leaves.
        nonlocal vocabulary_written
        _write_vocabulary(config, tmp, settings, say)
        vocabulary_written = True

    try:
        results = _train_all(
            projects,
            tmp,
            settings,
            previous,
            only,
            force,
            say,
            hooks_into_new_version,
            vocabulary_into_new_version,
        )
        calibration_key = _calibration_key(settings)
        unchanged = all(r.status == "unchanged" for r in results)
        if unchanged and previous.get("version") and previous.get("calibration_key") == calibration_key:
            shutil.rmtree(tmp)
            say("all", f"nothing changed; current stays {previous['version']}")
            kept = models_dir / previous["version"]
            report = TrainReport(previous["version"], kept, results, previous.get("thresholds", {}), False)
            hooks = run_post_train_hooks(config, settings, kept, say)
        else:
            if hooks is None:
                hooks_into_new_version()
            thresholds = _thresholds(tmp, results, settings, say)
            if not vocabulary_written:
                vocabulary_into_new_version()
            _write_version_manifest(tmp, version, results, thresholds, settings, calibration_key)
            final = models_dir / version
            os.replace(tmp, final)
            if activate:
                store.switch_current(models_dir, version)
                say("all", f"version {version} is now current")
            else:
                say("all", f"candidate version {version} is ready; current stays {previous.get('version')}")
            report = TrainReport(version, final, results, thresholds.to_manifest(), True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if report.created:
        _publish(config, models_dir, report.version, say)
    return TrainReport(**{**report.__dict__, "hooks": hooks or []})


def _publish(config: Config, models_dir: Path, version: str, say: ProgressFn) -> None:
    """The new version (hooks' files included) to the model store, when `models.store` names one. A
    store that fails is reported, not fatal: promotion publishes the version again before it reloads."""
    from bot.model_store import ModelStoreError, open_store

    store = open_store(config)
    if store is None:
        return
    try:
        info = store.publish(models_dir, version)
        say("all", f"published {version} to the model store {store.describe()} (sha256 {info.sha256[:12]})")
    except ModelStoreError as exc:
        logger.error("bot.train.publish_failed version=%s error=%s", version, exc)
        say("all", f"not published: {exc}")
    finally:
        store.close()


def _train_all(
    projects: dict[str, Path],
    tmp: Path,
    settings: BotSettings,
    previous: dict[str, Any],
    only: list[str] | None,
    force: bool,
    say: ProgressFn,
    meanwhile: Callable[[], None],
    last: Callable[[], None],
) -> list[ModelResult]:
    results = []
    jobs: list[Job] = []
    fingerprints: dict[str, str] = {}
    prev_models = previous.get("models", {})
    prev_dir = settings.models_dir / previous["version"] if previous.get("version") else None
    held_out = _held_out(settings)
    for name, project in projects.items():
        cfg = write_pipeline_config(tmp / "configs" / f"{name}.yml", settings, router=name == ROUTER)
        fp = fingerprint(project, cfg, settings)
        prev = prev_models.get(name, {})
        prev_file = prev_dir / f"{name}.tar.gz" if prev_dir else None
        have_prev = prev_file is not None and prev_file.is_file()
        selected = only is None or name in only
        if have_prev and (not selected or (not force and prev.get("fingerprint") == fp)):
            _link_or_copy(prev_file, tmp / f"{name}.tar.gz")  # type: ignore[arg-type]
            prev_parses = parses_path(prev_file)  # type: ignore[arg-type]
            if held_out is not None and prev_parses.is_file():  # checked against its keys in _thresholds
                _link_or_copy(prev_parses, parses_path(tmp / f"{name}.tar.gz"))
            from_version = prev.get("from_version") or previous["version"]
            why = "unchanged" if prev.get("fingerprint") == fp else "not selected"
            say(name, f"{why}: reusing the model of version {from_version}")
            results.append(ModelResult(name, "unchanged", 0.0, prev.get("fingerprint", fp), from_version))
            continue
        jobs.append(Job(name, project, cfg, tmp / f"{name}.tar.gz", held_out))
        fingerprints[name] = fp
    seconds = train_jobs(jobs, settings.train_workers, say, meanwhile, last) if jobs else {}
    results.extend(ModelResult(j.name, "trained", seconds[j.name], fingerprints[j.name]) for j in jobs)
    order = list(projects)
    return sorted(results, key=lambda r: order.index(r.name))


def _held_out(settings: BotSettings) -> Path | None:
    """The held-out split the thresholds are calibrated on; None when there is no calibration."""
    held_out = settings.build_dir / "test.csv"
    return held_out if settings.calibrate and held_out.is_file() else None


def _thresholds(tmp: Path, results: list[ModelResult], settings: BotSettings, say: ProgressFn) -> Thresholds:
    base = Thresholds(
        router=settings.default_router_threshold,
        domain_default=settings.default_domain_threshold,
        out_of_scope_intents=settings.out_of_scope_intents,
    )
    held_out = _held_out(settings)
    if held_out is None:
        say("all", f"using default thresholds (no calibration on {settings.build_dir / 'test.csv'})")
        return base
    from bot.evaluate import calibrate_on_parses

    parses = _held_out_parses(tmp, [r.name for r in results], held_out, say)
    say("all", f"calibrating thresholds on {held_out}")
    readings: list[tuple[str, str, str | None, float]] = []
    thresholds = calibrate_on_parses(
        parses, held_out, base, settings.min_in_scope_recall, settings.out_of_scope_share, readings
    )
    _write_drift_reference(tmp, readings, held_out, say)
    domains = ", ".join(f"{k} {v}" for k, v in thresholds.domains.items())
    say("all", f"thresholds: router {thresholds.router}, domains {domains or thresholds.domain_default}")
    return thresholds


def _held_out_parses(
    tmp: Path, names: list[str], held_out: Path, say: ProgressFn
) -> dict[str, list[dict[str, Any]]]:
    """Each model's parses of the held-out split: the ones its training worker saved or the previous
    version's (reused model), when their keys match; else the archive is loaded once and parsed here
    (a version trained before the parses were kept, or a changed held-out split)."""
    from bot.nlu import heldout

    parses = {}
    for name in names:
        archive = tmp / f"{name}.tar.gz"
        keys = heldout.Keys.of(held_out, archive)
        rows = heldout.load(parses_path(archive), keys)
        if rows is None:
            count, seconds = heldout.parse_archive(archive, held_out)
            say(name, f"no valid stored parses: parsed {count} held-out texts in {seconds:.1f} s")
            rows = heldout.load(parses_path(archive), keys)
            if rows is None:
                raise TrainingError(f"{parses_path(archive)}: the parses just written do not read back")
        parses[name] = rows
    return parses


def _write_drift_reference(
    tmp: Path, readings: list[tuple[str, str, str | None, float]], held_out: Path, say: ProgressFn
) -> None:
    """The test split as the new models read it: what `callbot drift report` compares live turns with."""
    from drift.reference import FILE_NAME, from_rows

    version = tmp.name.removeprefix(TMP_PREFIX)
    from_rows(version, readings, str(held_out)).save(tmp / FILE_NAME)
    say("all", f"drift reference: {len(readings)} held-out texts")


def _write_vocabulary(config: Config, tmp: Path, settings: BotSettings, say: ProgressFn) -> None:
    """The version's own words (bot.nlu.vocabulary): known words, business words, jamo confusions."""
    from bot.nlu.decision import is_rejection_class
    from bot.nlu.vocabulary import FILE_NAME, build_for_version
    from data.settings import DataSettings

    examples = settings.build_dir / "examples.csv"
    if not examples.is_file():
        say("all", f"no vocabulary: {examples} not found")
        return
    errors = DataSettings.from_config(config).augment.asr_errors
    vocabulary = build_for_version(
        examples,
        settings.vocabulary_files,
        errors,
        lambda intent: is_rejection_class(intent, settings.out_of_scope_intents),
        cache_dir=settings.build_dir / ".cache",
    )
    vocabulary.save(tmp / FILE_NAME)
    say("all", f"vocabulary: {len(vocabulary.business)} business words, {len(vocabulary.known)} known")


def _write_version_manifest(
    tmp: Path,
    version: str,
    results: list[ModelResult],
    thresholds: Thresholds,
    settings: BotSettings,
    calibration_key: str,
) -> None:
    import kiwipiepy
    import rasa

    store.write_manifest(
        tmp,
        {
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "rasa_version": rasa.__version__,
            "kiwipiepy_version": kiwipiepy.__version__,
            "tokenizer": settings.tokenizer,
            "models": {
                r.name: {
                    "fingerprint": r.fingerprint,
                    "status": r.status,
                    "seconds": r.seconds,
                    **({"from_version": r.from_version} if r.from_version else {}),
                }
                for r in results
            },
            "thresholds": thresholds.to_manifest(),
            "calibration_key": calibration_key,
        },
    )


def run_post_train_hooks(
    config: Config, settings: BotSettings, version_dir: Path, say: ProgressFn
) -> list[HookResult]:
    """Run `bot.post_train` hooks; a missing or failing hook is reported, never raised."""
    results = []
    for name in settings.post_train:
        target = POST_TRAIN_HOOKS.get(name, name)
        try:
            module_name, _, func_name = target.partition(":")
            hook = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError, ValueError) as exc:
            say(name, f"post-train hook not available ({target}): {exc}")
            results.append(HookResult(name, False, f"not available: {exc}"))
            continue
        try:
            hook(config, settings.build_dir, version_dir)
        except Exception as exc:  # a hook's failure must not undo NLU training
            logger.exception("bot.train.hook_failed hook=%s", name)
            say(name, f"post-train hook failed: {exc}")
            results.append(HookResult(name, False, f"failed: {exc}"))
            continue
        say(name, "post-train hook done")
        results.append(HookResult(name, True))
    return results


def _calibration_key(settings: BotSettings) -> str:
    """What the thresholds depend on besides the models: the held-out file and the rejection settings."""
    held_out = settings.build_dir / "test.csv"
    h = hashlib.sha256(held_out.read_bytes() if held_out.is_file() else b"")
    parts = (
        settings.calibrate,
        settings.min_in_scope_recall,
        settings.out_of_scope_intents,
        settings.out_of_scope_share,
    )
    h.update(repr(parts + (settings.default_router_threshold, settings.default_domain_threshold)).encode())
    return h.hexdigest()[:16]


def _previous_manifest(models_dir: Path) -> dict[str, Any]:
    try:
        return store.current_model_set(models_dir).manifest
    except store.ModelNotFoundError:
        return {}


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _remove_stale_temp(models_dir: Path) -> None:
    for p in models_dir.glob(f"{TMP_PREFIX}*"):
        logger.warning("bot.train.stale_temp removing=%s", p)
        shutil.rmtree(p, ignore_errors=True)
