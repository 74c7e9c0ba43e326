"""The bundled sample's models for the fast conversation tests: built and trained from the sample's
own data (callbot.yml), reduced to what the fast conversations need.

CI has no trained sample models, so `make test` trains them: `callbot data build` on the sample, then
the router and the reservation, store and common models with `FAST_EPOCHS` DIET epochs (the sample
uses 25), no post-train hooks (speech LM, reply audio) and, instead of calibrating the rejection
thresholds on the held-out split (a pass over 1,700 texts), the thresholds the full training chose
(router 0.0, domains 0.4). About 3.5 minutes on 2 cores. The models are cached in pytest's cache,
keyed by a hash of the built projects and the settings: an unchanged sample is trained once.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

import yaml

from callbot.config import Config

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
FAST_EPOCHS = 5
THRESHOLDS = {"calibrate": False, "router_threshold": 0.0, "domain_threshold": 0.4}
DOMAINS = ("reservation", "store", "common")  # what the `fast` conversations talk to


def sample_config(work: Path, models_dir: Path) -> Config:
    """The sample's callbot.yml with build, models and state under `work` and a short training."""
    raw = copy.deepcopy(yaml.safe_load((ROOT / "callbot.yml").read_text(encoding="utf-8")))
    raw["paths"] = {
        "build_dir": str(work / "build"),
        "models_dir": str(models_dir),
        "state_dir": str(work / "var"),
    }
    raw["bot"] = {
        **raw["bot"],
        "epochs": FAST_EPOCHS,
        "router_epochs": FAST_EPOCHS,
        "post_train": [],
        "jamo_ngrams": None,  # a third featurizer costs training time; the full models are measured by
        # benchmarks/noisy_eval.py and the conversation suites (docs/misheard.md)
        **THRESHOLDS,
    }
    return Config(path=ROOT / "callbot.yml", raw=raw)  # the sample's relative paths resolve against ROOT


def train_sample_models(cache: Path, work: Path) -> tuple[Config, float]:
    """A config whose models/current holds the reduced sample models; (config, seconds spent training)."""
    from bot.train import train
    from data.build import build
    from data.settings import DataSettings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    probe = sample_config(work, work / "models")
    build(DataSettings.from_config(probe))
    rasa_dir = work / "build" / "rasa"
    for project in rasa_dir.iterdir():
        if project.name not in (*DOMAINS, "router"):
            shutil.rmtree(project)
    digest = hashlib.sha256(f"epochs={FAST_EPOCHS} {sorted(THRESHOLDS.items())}".encode())
    for f in sorted(p for p in rasa_dir.rglob("*") if p.is_file()):
        digest.update(f.relative_to(rasa_dir).as_posix().encode() + b"\0" + f.read_bytes())
    models_dir = cache / f"sample-models-{digest.hexdigest()[:16]}"
    config = sample_config(work, models_dir)
    if (models_dir / "current").is_file():
        return config, 0.0
    started = time.monotonic()
    train(config)
    seconds = time.monotonic() - started
    logger.info("tests.sample_models.trained seconds=%.0f dir=%s", seconds, models_dir)
    return config, seconds
