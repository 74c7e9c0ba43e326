"""The model store: `models/<version>/<name>.tar.gz` + `manifest.json`, and the `current` pointer.

`models/current` is a one-line text file naming the version folder. It is replaced with `os.replace`,
which is atomic on POSIX, so a reader sees the old or the new version, never a mix. A version folder is
only ever created complete (training writes into `models/.tmp-*` and renames it at the end).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CURRENT = "current"
MANIFEST = "manifest.json"
ROUTER = "router"
TMP_PREFIX = ".tmp-"


class ModelNotFoundError(Exception):
    """No usable trained model set in the models folder."""


@dataclass(frozen=True)
class ModelSet:
    """One trained version: the router and domain archives plus its manifest (thresholds, fingerprints)."""

    version: str
    directory: Path
    paths: dict[str, Path]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def router(self) -> Path:
        return self.paths[ROUTER]

    @property
    def domains(self) -> dict[str, Path]:
        return {name: p for name, p in self.paths.items() if name != ROUTER}

    @property
    def thresholds(self) -> dict[str, Any]:
        """`{"router": float, "domains": {name: float}, "out_of_scope_intents": [...]}` (may be empty)."""
        return self.manifest.get("thresholds") or {}


def new_version_name(now: datetime | None = None) -> str:
    """A sortable version name: UTC time to the microsecond, e.g. `20261127-103501-123456`."""
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S-%f")


def read_current_version(models_dir: Path) -> str | None:
    pointer = models_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return name or None


def switch_current(models_dir: Path, version: str) -> None:
    """Point `models/current` at `version` atomically (write a temp file, then os.replace)."""
    if not (models_dir / version / MANIFEST).is_file():
        raise ModelNotFoundError(f"{models_dir / version}: not a complete model version (no {MANIFEST})")
    tmp = models_dir / f"{CURRENT}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, models_dir / CURRENT)
    logger.info("bot.models.current version=%s", version)


def load_model_set(models_dir: Path, version: str) -> ModelSet:
    """The model set of one version folder, checked to be complete."""
    directory = models_dir / version
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ModelNotFoundError(f"{directory}: no {MANIFEST}; run `callbot train`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelNotFoundError(f"{manifest_path}: unreadable ({exc}); run `callbot train`") from exc
    paths = {name: directory / f"{name}.tar.gz" for name in manifest.get("models", {})}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise ModelNotFoundError(f"{directory}: missing model files: {', '.join(missing)}")
    if ROUTER not in paths:
        raise ModelNotFoundError(f"{directory}: no router model; run `callbot train`")
    return ModelSet(version=version, directory=directory, paths=paths, manifest=manifest)


def current_model_set(models_dir: Path) -> ModelSet:
    """The model set `models/current` points at."""
    version = read_current_version(models_dir)
    if version is None:
        raise ModelNotFoundError(f"no trained models in {models_dir}; run `callbot train`")
    return load_model_set(models_dir, version)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    tmp = directory / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, directory / MANIFEST)


def list_versions(models_dir: Path) -> list[str]:
    """Complete version folders, oldest first."""
    if not models_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in models_dir.iterdir()
        if p.is_dir() and not p.name.startswith(TMP_PREFIX) and (p / MANIFEST).is_file()
    )
