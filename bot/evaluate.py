"""`callbot nlu eval`: labelled texts through the full NLU path (router -> domain -> decide), scored.

A labelled file is CSV or TSV with `text` and `intent` columns (optional `domain`, `kind`). Every text is
parsed exactly as the runtime would and judged with the manifest's thresholds, so the figures are
those a caller would get. Out-of-scope texts (intent `out_of_scope`, with or without a domain prefix)
count as correct when rejected.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.nlu.calibrate import Labelled, calibrate
from bot.nlu.decision import Thresholds
from bot.nlu.parser import NluModels, ParseResult

logger = logging.getLogger(__name__)

OOS_LABEL = "out_of_scope"


class EvalDataError(Exception):
    """A labelled file is missing, unreadable or lacks the required columns."""


@dataclass(frozen=True)
class LabelledText:
    text: str
    intent: str
    domain: str | None = None
    kind: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Prediction:
    item: LabelledText
    result: ParseResult
    gold: str
    predicted: str

    @property
    def correct(self) -> bool:
        return self.gold == self.predicted


@dataclass(frozen=True)
class Scores:
    """Figures for one subset of the labelled texts."""

    name: str
    count: int
    accuracy: float
    router_accuracy: float | None
    in_scope_accuracy: float | None
    out_of_scope_count: int
    out_of_scope_accepted: float | None  # share of out-of-scope texts taken as some intent
    out_of_scope_as_business: float | None  # ... taken as an intent outside the common domain
    per_intent: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        keys = ("name", "count", "accuracy", "router_accuracy", "in_scope_accuracy", "out_of_scope_count")
        out = {k: getattr(self, k) for k in keys}
        out["out_of_scope_accepted"] = self.out_of_scope_accepted
        out["out_of_scope_as_business"] = self.out_of_scope_as_business
        return out


def read_labelled(path: Path) -> list[LabelledText]:
    """Rows of a labelled CSV/TSV file (TSV when the suffix is .tsv or the header has tabs)."""
    if not path.is_file():
        raise EvalDataError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"{path}: cannot read as UTF-8 text ({exc})") from exc
    first = text.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in first else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    missing = {"text", "intent"} - set(reader.fieldnames or [])
    if missing:
        raise EvalDataError(f"{path}: missing column(s) {', '.join(sorted(missing))}; need text,intent")
    items = []
    for line, row in enumerate(reader, start=2):
        t, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
        if not t or not intent:
            raise EvalDataError(f"{path}:{line}: empty text or intent")
        items.append(
            LabelledText(
                t, intent, (row.get("domain") or "").strip() or None, row.get("kind") or None, path.name
            )
        )
    if not items:
        raise EvalDataError(f"{path}: no rows")
    return items


def label_of(intent: str | None, thresholds: Thresholds) -> str:
    return OOS_LABEL if not intent or thresholds.is_out_of_scope(intent) else intent


async def predict(models: NluModels, items: list[LabelledText]) -> list[Prediction]:
    """Parse every text once with all models loaded; labels use the models' thresholds."""
    out = []
    th = models.thresholds
    results = await models.parse_many([item.text for item in items])
    for item, result in zip(items, results, strict=True):
        predicted = OOS_LABEL if result.decision.rejected else label_of(result.decision.intent, th)
        out.append(Prediction(item, result, label_of(item.intent, th), predicted))
    return out


def score(name: str, preds: list[Prediction], common_domain: str = "common") -> Scores:
    """Accuracy, router accuracy, out-of-scope acceptance, per-intent P/R/F1 and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    n = len(preds)
    routed = [p for p in preds if p.item.domain and p.gold != OOS_LABEL]
    in_scope = [p for p in preds if p.gold != OOS_LABEL]
    oos = [p for p in preds if p.gold == OOS_LABEL]
    accepted = [p for p in oos if p.predicted != OOS_LABEL]
    business = [p for p in accepted if p.result.decision.domain != common_domain]
    labels = sorted({p.gold for p in preds} | {p.predicted for p in preds})
    gold, pred = [p.gold for p in preds], [p.predicted for p in preds]
    prec, rec, f1, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return Scores(
        name=name,
        count=n,
        accuracy=_share(sum(p.correct for p in preds), n),  # type: ignore[arg-type]
        router_accuracy=_share(sum(p.result.decision.domain == p.item.domain for p in routed), len(routed)),
        in_scope_accuracy=_share(sum(p.correct for p in in_scope), len(in_scope)),
        out_of_scope_count=len(oos),
        out_of_scope_accepted=_share(len(accepted), len(oos)),
        out_of_scope_as_business=_share(len(business), len(oos)),
        per_intent={
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, prec, rec, f1, support, strict=True)
        },
        labels=labels,
        confusion=confusion_matrix(gold, pred, labels=labels).tolist(),
    )


def subsets(preds: list[Prediction], by_file: bool) -> list[tuple[str, list[Prediction]]]:
    """The subsets reported: everything, each file (several files), real vs generated speech, each kind."""
    groups: list[tuple[str, list[Prediction]]] = [("all", preds)]
    if by_file:
        for source in sorted({p.item.source for p in preds}):
            groups.append((source, [p for p in preds if p.item.source == source]))
    kinds = sorted({p.item.kind for p in preds if p.item.kind})
    if kinds and kinds != ["real"]:
        groups.append(("casual/short (kind != real)", [p for p in preds if p.item.kind != "real"]))
        groups.extend((f"kind={k}", [p for p in preds if p.item.kind == k]) for k in kinds)
    return [(name, group) for name, group in groups if group]


def write_predictions(path: Path, preds: list[Prediction]) -> None:
    """One row per text: gold, prediction and both layers' confidences."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "source",
                "text",
                "kind",
                "gold_domain",
                "gold_intent",
                "predicted",
                "correct",
                "domain",
                "router_confidence",
                "intent",
                "confidence",
                "rejected",
                "reason",
            ]  # fmt: skip
        )
        for p in preds:
            d = p.result.decision
            w.writerow(
                [
                    p.item.source,
                    p.item.text,
                    p.item.kind or "",
                    p.item.domain or "",
                    p.item.intent,
                    p.predicted,
                    int(p.correct),
                    d.domain or "",
                    f"{d.router_confidence:.4f}",
                    d.intent or "",
                    f"{d.confidence:.4f}",
                    int(d.rejected),
                    d.reason,
                ]  # fmt: skip
            )


async def calibrate_on_file(
    paths: dict[str, Path],
    held_out: Path,
    base: Thresholds,
    min_recall: float,
    out_of_scope_share: float,
    readings: list[tuple[str, str, str | None, float]] | None = None,
) -> Thresholds:
    """Load freshly trained models, parse the held-out split with no rejection, choose thresholds.

    `readings`, when given, receives each text's (gold label, predicted label, router domain, top-1
    confidence) under the chosen thresholds: the drift reference (`drift.reference.from_rows`)."""
    items = read_labelled(held_out)
    models = NluModels.load_paths(paths, _no_rejection(base))
    results = await models.parse_many([item.text for item in items])
    return _calibrate(items, results, base, min_recall, out_of_scope_share, readings)


def calibrate_on_parses(
    parses: dict[str, list[dict[str, Any]]],
    held_out: Path,
    base: Thresholds,
    min_recall: float,
    out_of_scope_share: float,
    readings: list[tuple[str, str, str | None, float]] | None = None,
) -> Thresholds:
    """`calibrate_on_file` from each model's stored parses of every held-out text (bot.nlu.heldout),
    loading no model: the same results, thresholds and readings."""
    from bot.nlu.heldout import results_from_parses

    items = read_labelled(held_out)
    results = results_from_parses([item.text for item in items], parses, _no_rejection(base))
    return _calibrate(items, results, base, min_recall, out_of_scope_share, readings)


def _no_rejection(base: Thresholds) -> Thresholds:
    return replace(base, router=0.0, domain_default=0.0, domains={})


def _calibrate(
    items: list[LabelledText],
    results: list[ParseResult],
    base: Thresholds,
    min_recall: float,
    out_of_scope_share: float,
    readings: list[tuple[str, str, str | None, float]] | None,
) -> Thresholds:
    from bot.nlu.decision import decide

    rows = [Labelled(item.domain, item.intent, result) for item, result in zip(items, results, strict=True)]
    thresholds, stats = calibrate(rows, base, min_recall, out_of_scope_share=out_of_scope_share)
    logger.debug("bot.calibrate %s thresholds=%s", stats, thresholds.to_manifest())
    if readings is not None:
        for row in rows:
            d = decide(row.result.router, row.result.domain, thresholds)
            predicted = OOS_LABEL if d.rejected else label_of(d.intent, thresholds)
            readings.append((label_of(row.intent, thresholds), predicted, d.domain, float(d.confidence)))
    return thresholds


def _share(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


@dataclass(frozen=True)
class EvalRun:
    version: str
    scores: list[Scores]
    predictions_csv: Path | None = None
    report_html: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "subsets": [{**s.summary(), "per_intent": s.per_intent} for s in self.scores],
            "predictions_csv": str(self.predictions_csv) if self.predictions_csv else None,
            "report_html": str(self.report_html) if self.report_html else None,
        }


async def run_eval(
    models_dir: Path, files: list[Path], out_dir: Path | None = None, common_domain: str = "common"
) -> EvalRun:
    """Evaluate the current model version on `files`; write predictions.csv and report.html to `out_dir`."""
    from bot.models import current_model_set
    from bot.nlu.report import write_html

    items = [item for f in files for item in read_labelled(f)]
    model_set = current_model_set(models_dir)
    models = NluModels.load(model_set)
    preds = await predict(models, items)
    scores = [score(name, group, common_domain) for name, group in subsets(preds, by_file=len(files) > 1)]
    run = EvalRun(model_set.version, scores)
    if out_dir is None:
        return run
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_dir / "predictions.csv", out_dir / "report.html"
    write_predictions(csv_path, preds)
    names = ", ".join(f.name for f in files)
    write_html(html_path, f"callbot NLU evaluation: {names} (models {model_set.version})", scores)
    return replace(run, predictions_csv=csv_path, report_html=html_path)
