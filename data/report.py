"""The build report: what was read, dropped, masked and generated — saved as JSON, shown as a table."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from data.build import Example
    from data.settings import DataSettings
    from data.sources import SourceData

MAX_PROBLEMS = 200


@dataclass
class BuildReport:
    inputs: dict[str, list[str]] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    customer_utterances: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    pii_masked: dict[str, int] = field(default_factory=dict)
    auto_labelled: int = 0
    operator_labels: int = 0  # console labels of live turns that became real examples
    review: int = 0
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    problems_total: int = 0
    seconds: float = 0.0
    asr_errors: dict[str, Any] = field(default_factory=dict)  # the learned error model used (asr_learned)
    out_of_scope_overlap: dict[str, Any] = field(default_factory=dict)  # data.overlap.summary

    @classmethod
    def collect(
        cls,
        settings: DataSettings,
        sources: SourceData,
        examples: list[Example],
        review: list[dict],
        pii: Counter[str],
    ) -> BuildReport:
        intents: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"domain": "", "real_train": 0, "real_test": 0, "generated_train": 0, "generated_test": 0}
        )
        kinds: Counter[str] = Counter()
        for e in examples:
            row = intents[e.intent]
            row["domain"] = e.domain
            row[f"{'real' if e.kind == 'real' else 'generated'}_{e.split}"] += 1
            if e.kind != "real":
                row.setdefault("by_kind", Counter())[e.kind] += 1
            kinds[e.kind] += 1
        for row in intents.values():
            row["by_kind"] = dict(row.get("by_kind", {}))
        return cls(
            inputs={"qna": [str(p) for p in settings.qna], "chat_logs": [str(p) for p in settings.chat_logs]},
            rows_read=dict(sources.rows_read),
            customer_utterances=len(sources.utterances),
            dropped=dict(sorted(sources.dropped.items())),
            pii_masked=dict(sorted(pii.items())),
            auto_labelled=sum(1 for u in sources.utterances if u.origin == "chat-auto"),
            operator_labels=sum(1 for e in examples if e.kind == "real" and e.source.startswith("operator:")),
            review=len(review),
            intents=dict(sorted(intents.items(), key=lambda kv: (kv[1]["domain"], kv[0]))),
            totals={"examples": len(examples), **dict(kinds)},
            problems=[asdict(p) for p in sources.problems[:MAX_PROBLEMS]],
            problems_total=len(sources.problems),
            asr_errors=_error_model_provenance(settings),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tables(self) -> list[Table]:
        """Rich tables for people: summary, then per-intent counts."""
        summary = Table(title="data build", show_header=False)
        summary.add_column("what")
        summary.add_column("value", justify="right")
        for name, n in self.rows_read.items():
            summary.add_row(f"rows read: {Path(name).name}", str(n))
        summary.add_row("customer utterances", str(self.customer_utterances))
        for reason, n in self.dropped.items():
            summary.add_row(f"dropped: {reason}", str(n))
        for kind, n in self.pii_masked.items():
            summary.add_row(f"PII masked: {kind}", str(n))
        summary.add_row("auto-labelled chat turns", str(self.auto_labelled))
        summary.add_row("operator labels (console)", str(self.operator_labels))
        summary.add_row("review file rows", str(self.review))
        if self.out_of_scope_overlap.get("examples"):
            o = self.out_of_scope_overlap
            top = ", ".join(list(o["top_words"])[:5])
            summary.add_row(
                f"out-of-scope examples with a business word ({o['file']}: {top})", str(o["examples"])
            )
        for kind, n in self.totals.items():
            summary.add_row(f"examples: {kind}", str(n))
        summary.add_row("seconds", f"{self.seconds:.1f}")

        # Fits an 80-column terminal with whole intent names: short headers, and no domain column when
        # every intent name starts with its domain (as in the sample: store_hours is in store).
        with_domain = any(not i.startswith(f"{r['domain']}_") for i, r in self.intents.items())
        per_intent = Table(title="examples per intent: real and generated (train/test), generated by kind")
        if with_domain:
            per_intent.add_column("domain", overflow="fold")
        per_intent.add_column("intent", no_wrap=True)
        for col in ("real", "gen", "casual", "clip", "asr", "learned"):
            per_intent.add_column(col, justify="right", no_wrap=True)
        for intent, row in self.intents.items():
            kinds = row.get("by_kind", {})
            per_intent.add_row(
                *([row["domain"]] if with_domain else []),
                intent,
                f"{row['real_train']}/{row['real_test']}",
                f"{row['generated_train']}/{row['generated_test']}",
                *(str(kinds.get(k, 0)) for k in ("casual", "clipped", "asr", "asr_learned")),
            )
        return [summary, per_intent]


def _error_model_provenance(settings: DataSettings) -> dict[str, Any]:
    path = settings.augment.asr_errors
    if path is None or settings.augment.asr_learned_per_real <= 0:
        return {}
    try:
        provenance = json.loads(path.read_text(encoding="utf-8")).get("provenance") or {}
    except (OSError, ValueError):
        provenance = {}
    return {"file": str(path), **provenance}
