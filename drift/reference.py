"""The reference a model version's live traffic is compared with: its test split, as the models read it.

For every held-out text: the true label, the predicted label (the runtime's rejection rule: a rejected
turn is `out_of_scope`), the router's domain and the top-1 confidence. Saved as
`models/<version>/drift_reference.json` at the end of `callbot train`, or made on the first report from
`build/test.csv` when the version has none. From it, per scope (a routed domain, or every turn):
the joint confusion matrix (BBSE), the predicted label shares, the out-of-scope share and the
confidence histogram.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drift import DriftError
from drift.stats import histogram, joint_confusion

logger = logging.getLogger(__name__)

FILE_NAME = "drift_reference.json"
OOS = "out_of_scope"
ALL = "all"  # the scope of every turn, whatever its domain
OTHER = "(other)"  # a scope's labels with too few held-out texts (see `Reference.scope`), pooled
MIN_ITEMS = 10
FORMAT = 1


@dataclass(frozen=True)
class Scope:
    """The reference statistics of one scope (a routed domain or `all`)."""

    labels: list[str]  # the scope's labels with MIN_ITEMS texts or more, then OTHER
    joint: np.ndarray  # C[predicted, true], shares of the scope's items
    n: int
    oos_share: float  # (k + 0.5) / (n + 1)
    confidences: np.ndarray  # top-1 confidences of the scope's items

    @property
    def predicted_shares(self) -> np.ndarray:
        return self.joint.sum(axis=1)

    @property
    def true_shares(self) -> np.ndarray:
        return self.joint.sum(axis=0)

    def index(self, label: str) -> int:
        """The label's index; labels the scope's reference has (almost) never seen count as OTHER."""
        try:
            return self.labels.index(label)
        except ValueError:
            return len(self.labels) - 1

    def confidence_histogram(self, bins: int) -> np.ndarray:
        return histogram(self.confidences, bins)


@dataclass(frozen=True)
class Reference:
    """The held-out items of one model version: (true, predicted, router domain, top-1 confidence)."""

    version: str
    labels: list[str]
    true: np.ndarray
    predicted: np.ndarray
    domains: list[str | None]
    confidence: np.ndarray
    source: str = ""

    @property
    def scopes(self) -> list[str]:
        return [ALL, *sorted({d for d in self.domains if d})]

    def scope(self, name: str) -> Scope:
        """The reference of turns routed to `name` (`all`: every turn). A domain the test split never
        routed to has no reference of its own: the overall one stands in."""
        mask = np.ones(len(self.true), bool) if name == ALL else np.array([d == name for d in self.domains])
        if not mask.any():
            mask = np.ones(len(self.true), bool)
        oos = self.labels.index(OOS)
        # BBSE cannot weigh a label it saw a few times (its weight swings with every live turn): labels
        # with fewer true texts in the scope than MIN_ITEMS (3 to 10: 2% of the scope's texts) are
        # pooled as OTHER, as true and as predicted
        true, predicted = self.true[mask], self.predicted[mask]
        counts = np.bincount(true, minlength=len(self.labels))
        least = max(3, min(MIN_ITEMS, round(0.02 * len(true))))  # a tiny test split keeps what it has
        kept = [i for i in range(len(self.labels)) if counts[i] >= least or i == oos]
        labels = [self.labels[i] for i in kept] + [OTHER]
        at = np.full(len(self.labels), len(kept))
        at[kept] = np.arange(len(kept))
        joint = joint_confusion(at[true], at[predicted], len(labels))
        return Scope(
            labels,
            joint,
            int(mask.sum()),
            # the share with half a turn added: a test split with no refusal in a domain does not make
            # every live refusal there an alert
            float(((self.predicted[mask] == oos).sum() + 0.5) / (mask.sum() + 1)),
            self.confidence[mask],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "source": self.source,
            "labels": self.labels,
            "items": [
                [int(t), int(p), d, round(float(c), 4)]
                for t, p, d, c in zip(self.true, self.predicted, self.domains, self.confidence, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "reference") -> Reference:
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            labels = [str(x) for x in data["labels"]]
            items = data["items"]
            if OOS not in labels:
                raise ValueError(f"no {OOS!r} label")
            return cls(
                str(data["version"]),
                labels,
                np.array([int(i[0]) for i in items], dtype=int),
                np.array([int(i[1]) for i in items], dtype=int),
                [i[2] for i in items],
                np.array([float(i[3]) for i in items]),
                str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DriftError(f"{where}: not a drift reference ({exc})") from exc

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Reference:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DriftError(f"{path}: cannot read the drift reference ({exc})") from exc
        return cls.from_json(data, str(path))


def from_rows(version: str, rows: list[tuple[str, str, str | None, float]], source: str = "") -> Reference:
    """A reference from `(true label, predicted label, router domain, confidence)` rows (labels already
    mapped: rejected and out-of-scope intents are `out_of_scope`)."""
    if not rows:
        raise DriftError(f"{source or 'reference'}: no labelled texts to build a drift reference from")
    labels = sorted({r[0] for r in rows} | {r[1] for r in rows} | {OOS})
    at = {label: i for i, label in enumerate(labels)}
    return Reference(
        version,
        labels,
        np.array([at[r[0]] for r in rows], dtype=int),
        np.array([at[r[1]] for r in rows], dtype=int),
        [r[2] for r in rows],
        np.array([float(r[3]) for r in rows]),
        source,
    )


async def build(models: Any, held_out: Path, version: str) -> Reference:
    """Parse the held-out split with loaded `NluModels` exactly as `nlu eval` does; the reference."""
    from bot.evaluate import predict, read_labelled

    preds = await predict(models, read_labelled(held_out))
    rows = [
        (p.gold, p.predicted, p.result.decision.domain, float(p.result.decision.confidence)) for p in preds
    ]
    return from_rows(version, rows, str(held_out))


async def from_bot(bot: Any, held_out: Path) -> Reference:
    """The reference of a loaded `bot.runtime.Bot`'s current version (parsed on its Rasa thread)."""
    from bot.nlu.parser import NluModels

    loaded = bot.loaded
    models = NluModels(loaded.router, loaded.agents, loaded.thresholds)
    return await loaded.rasa.run(build(models, held_out, loaded.version))


def for_version(version_dir: Path, held_out: Path | None) -> Reference:
    """The version's saved reference, or one made now from `held_out` (and saved beside the models)."""
    path = version_dir / FILE_NAME
    if path.is_file():
        return Reference.load(path)
    if held_out is None or not held_out.is_file():
        raise DriftError(
            f"{path}: no drift reference, and no held-out split ({held_out}) to make one from; "
            "run `callbot data build` and `callbot train`"
        )
    import asyncio

    from bot.models import load_model_set
    from bot.nlu.parser import NluModels

    model_set = load_model_set(version_dir.parent, version_dir.name)
    logger.info("drift.reference.building version=%s from=%s", model_set.version, held_out)
    reference = asyncio.run(build(NluModels.load(model_set), held_out, model_set.version))
    reference.save(path)
    return reference
