"""The `stt.domain_lm` keys of callbot.yml and the one call `callbot train` makes to build the LMs.

    stt:
      domain_lm:
        enabled: true
        general_weight: 0.01      # unigram share of general words (the way out for off-domain speech)
        general_words: 20000      # the base model's most frequent words get it, by frequency; 0: all, evenly
        order: 3
        dither_zero: true         # derived model's conf/mfcc.conf gets --dither=0 (reproducible results)
        static_graph: true        # compile graph/HCLG.fst at train time (needs libfst-tools; else lookahead)
        splits: [train]           # rows of build/examples.csv used as text
        named:                    # extra LMs for dialogue states: name -> text files, one sentence a line
          reservation_form: [examples/restaurant/stt/reservation_form.txt]

`build_configured` writes `<out_root>/domain` (all of examples.csv) and `<out_root>/<name>` per named set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from callbot.config import Config
from stt.lm.build import GENERAL_WEIGHT, GENERAL_WORDS, LmReport, build_domain_model, read_examples_texts
from stt.lm.errors import LmError

logger = logging.getLogger(__name__)

DOMAIN_NAME = "domain"
_KEYS = (
    "enabled",
    "general_weight",
    "general_words",
    "order",
    "dither_zero",
    "static_graph",
    "splits",
    "named",
)


@dataclass(frozen=True)
class DomainLmSettings:
    enabled: bool = True
    general_weight: float = GENERAL_WEIGHT
    general_words: int = GENERAL_WORDS
    order: int = 3
    dither_zero: bool = True
    static_graph: bool = True
    splits: tuple[str, ...] = ("train",)
    named: dict[str, tuple[Path, ...]] = field(default_factory=dict)


def read_domain_lm_settings(config: Config) -> DomainLmSettings:
    """Validate `stt.domain_lm`; raises ConfigError listing every bad key (other stt keys are not checked)."""
    r = config.reader("stt")
    d = DomainLmSettings()
    sub = r.data.get("domain_lm")
    if sub is not None and not isinstance(sub, dict):
        r.error("domain_lm", f"expected a mapping, got {sub!r}")
        sub = None
    for key in sub or {}:
        if key not in _KEYS:
            r.error(f"domain_lm.{key}", f"unknown key (known: {', '.join(_KEYS)})")
    named: dict[str, tuple[Path, ...]] = {}
    raw_named = r.mapping("domain_lm.named", {}) if sub else {}
    for name, files in (raw_named or {}).items():
        key = f"domain_lm.named.{name}"
        if (
            not isinstance(name, str)
            or not name
            or "/" in name
            or name.startswith(".")
            or name == DOMAIN_NAME
        ):
            r.error(key, f"a plain folder name other than '{DOMAIN_NAME}' is needed")
            continue
        paths = [files] if isinstance(files, str) else files
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            r.error(key, f"expected a list of text files, got {files!r}")
            continue
        resolved = tuple(config.resolve(p) for p in paths)
        for p in resolved:
            if not p.is_file():
                r.error(key, f"text file does not exist: {p}")
        named[name] = resolved
    settings = DomainLmSettings(
        enabled=r.bool("domain_lm.enabled", d.enabled),
        general_weight=r.float("domain_lm.general_weight", d.general_weight, min=0.0, max=0.99),
        general_words=r.int("domain_lm.general_words", d.general_words, min=0, max=10_000_000),
        order=r.int("domain_lm.order", d.order, min=1, max=5),
        dither_zero=r.bool("domain_lm.dither_zero", d.dither_zero),
        static_graph=r.bool("domain_lm.static_graph", d.static_graph),
        splits=tuple(r.str_list("domain_lm.splits", list(d.splits))),
        named=named,
    )
    r.done()
    return settings


def read_text_file(path: Path) -> list[str]:
    """Sentences of a text set: one a line, blank lines and lines starting with '#' skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise LmError(f"cannot read LM text file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise LmError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def build_configured(
    settings: DomainLmSettings, examples_csv: Path, base_model: Path, out_root: Path
) -> dict[str, LmReport]:
    """Build `out_root/domain` from examples.csv and `out_root/<name>` for each named text set.

    Returns the reports by name; nothing is built when `settings.enabled` is false.
    """
    if not settings.enabled:
        logger.info("stt.lm.disabled")
        return {}
    options = {
        "general_weight": settings.general_weight,
        "general_words": settings.general_words,
        "order": settings.order,
        "dither_zero": settings.dither_zero,
        "static_graph": settings.static_graph,
    }
    texts = read_examples_texts(examples_csv, splits=settings.splits)
    if not texts:
        raise LmError(f"{examples_csv}: no example texts in splits {', '.join(settings.splits)}")
    reports = {DOMAIN_NAME: build_domain_model(base_model, texts, Path(out_root) / DOMAIN_NAME, **options)}
    for name, files in settings.named.items():
        named_texts = [t for f in files for t in read_text_file(f)]
        if not named_texts:
            raise LmError(f"LM text set '{name}' is empty ({', '.join(map(str, files))})")
        reports[name] = build_domain_model(base_model, named_texts, Path(out_root) / name, **options)
    return reports
