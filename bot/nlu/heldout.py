"""Each model's raw parses of the held-out split, made once and kept beside its archive.

`callbot train` calibrates the thresholds on `build/test.csv` read through router -> domain. Instead of
loading every model again for that, the worker that trained a model loads its new archive there and
parses every held-out text with it (`parse_batch`, the dicts `agent.parse_message` returns), and the
parses are saved as `<name>.heldout.json.gz` in the version folder. A model reused unchanged by the next
version brings its file along as long as the keys still match: the held-out file's bytes, the archive's
bytes and the code that parses (bot.nlu and the versions of its libraries). Calibration assembles the
runtime's reading of each text from these files (`results_from_parses`), as `NluModels.parse_many` does.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.models import ROUTER
from bot.nlu.decision import Thresholds, decide
from bot.nlu.parser import BATCH_SIZE, ParseResult, load_agent, parse_batch

logger = logging.getLogger(__name__)

SUFFIX = ".heldout.json.gz"
FORMAT = 1
LIBRARIES = ("rasa", "kiwipiepy", "tensorflow", "numpy", "scikit-learn")


def parses_path(archive: Path) -> Path:
    """`<folder>/<name>.heldout.json.gz` for the archive `<folder>/<name>.tar.gz`."""
    return archive.with_name(archive.name.removesuffix(".tar.gz") + SUFFIX)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def code_key() -> str:
    """What a parse depends on besides the archive and the text: callbot's NLU code and its libraries
    (their installed versions, read without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    for package in LIBRARIES:
        try:
            h.update(f"{package}={version(package)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{package}=none\0".encode())
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Keys:
    """When stored parses are valid: the same held-out bytes, archive bytes and parsing code."""

    held_out: str
    archive: str
    code: str

    @classmethod
    def of(cls, held_out: Path, archive: Path) -> Keys:
        return cls(file_sha256(held_out), file_sha256(archive), code_key())


def held_out_texts(held_out: Path) -> list[str]:
    from bot.evaluate import read_labelled

    return [item.text for item in read_labelled(held_out)]


def parse_all(agent: Any, texts: list[str], batch_size: int = BATCH_SIZE) -> list[dict[str, Any]]:
    """`parse_batch` of every text, in batches (a text's parse does not depend on its batch)."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(texts), batch_size):
        out.extend(parse_batch(agent, texts[start : start + batch_size]))
    return out


def parse_archive(archive: Path, held_out: Path) -> tuple[int, float]:
    """Load `archive`, parse every held-out text and save the parses beside it; (texts, seconds)."""
    started = time.monotonic()
    keys = Keys.of(held_out, archive)
    texts = held_out_texts(held_out)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # Rasa's own lines stay out of the command's output
        agent = load_agent(archive)
        parses = parse_all(agent, texts)
    logger.debug("bot.nlu.heldout.rasa_output model=%s\n%s", archive.name, printed.getvalue())
    save(parses_path(archive), keys, parses)
    return len(texts), round(time.monotonic() - started, 1)


def save(path: Path, keys: Keys, parses: list[dict[str, Any]]) -> None:
    """Write the parses atomically (a temp file, then os.replace)."""
    data = {"format": FORMAT, "keys": keys.__dict__, "parses": parses}
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=5) as f:
        json.dump(data, f, ensure_ascii=False, default=_plain)
    os.replace(tmp, path)


def load(path: Path, keys: Keys) -> list[dict[str, Any]] | None:
    """The parses stored at `path`, or None when there are none or they were made for other keys."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError) as exc:
        logger.warning("bot.nlu.heldout.unreadable path=%s error=%s", path, exc)
        return None
    if data.get("format") != FORMAT or data.get("keys") != keys.__dict__:
        return None
    parses = data["parses"]
    for parse in parses:  # JSON has no tuples: Rasa's token spans are (start, end) tuples
        if "text_tokens" in parse:
            parse["text_tokens"] = [tuple(span) for span in parse["text_tokens"]]
    return parses


def results_from_parses(
    texts: list[str], parses: Mapping[str, list[Mapping[str, Any]]], thresholds: Thresholds
) -> list[ParseResult]:
    """What `NluModels.parse_many(texts, thresholds)` returns, from each model's stored parses of all
    `texts`: the router's parse, then the parse of the domain the router chose (none for another name)."""
    for name, rows in parses.items():
        if len(rows) != len(texts):
            raise ValueError(f"{name}: {len(rows)} stored parses for {len(texts)} held-out texts")
    out = []
    for i, text in enumerate(texts):
        router = parses[ROUTER][i]
        name = (router.get("intent") or {}).get("name")
        domain = parses[name][i] if name in parses and name != ROUTER else None
        out.append(ParseResult(text, router, domain, decide(router, domain, thresholds)))
    return out


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as JSON numbers and lists (Python floats round-trip exactly)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
